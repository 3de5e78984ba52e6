"""Logging: plain lines locally, one JSON object a line in production (LOG_JSON=1)."""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def configure_logging(json_lines: bool) -> None:
    root = logging.getLogger()
    if getattr(root, "_neuro_configured", False):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in ("httpx", "httpx2", "urllib3", "google_genai", "apscheduler", "pgserver",
                  "alembic", "pymorphy3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    root._neuro_configured = True  # type: ignore[attr-defined]
