"""`make run`: embedded PostgreSQL (when DATABASE_URL is unset), migrations, then the app under
gunicorn (one process, threads) with the local chat page at /dev/chat."""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    os.chdir(ROOT)
    from app.platform.config import Settings, normalize_database_url
    from app.platform.db import embedded_database_url
    from app.platform.migrate import upgrade_head

    settings = Settings()
    if settings.database_url:
        os.environ["DATABASE_URL"] = settings.database_url
    else:
        os.environ["DATABASE_URL"] = embedded_database_url(settings.data_dir)
        print(f"embedded PostgreSQL: data in {ROOT / settings.data_dir / 'pg'}")
    upgrade_head(normalize_database_url(os.environ["DATABASE_URL"]))
    if not settings.admin_password:
        os.environ["ADMIN_PASSWORD"] = "admin"
        print("ADMIN_PASSWORD is not set: the local staff panel password is 'admin'")
    os.environ["WEB_CONCURRENCY"] = "1"  # one process below
    os.environ["LOCAL_MODE"] = "1"  # the chat page; app.platform.runmode refuses it on a server
    port = str(settings.port)
    print(f"\n  Chat as a VK user: http://127.0.0.1:{port}/dev/chat"
          f"\n  Staff panel:       http://127.0.0.1:{port}/admin"
          f"\n  Health:            http://127.0.0.1:{port}/healthz"
          f"\n  Brain: {'Gemini' if settings.gemini_api_key else 'offline rules (no GEMINI_API_KEY)'}\n",
          flush=True)
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    os.execv(gunicorn, [gunicorn, "app:create_app()", "--bind", f"127.0.0.1:{port}",
                        "--workers", "1", "--threads", "8", "--worker-class", "gthread",
                        "--timeout", "60", "--graceful-timeout", "5"])


if __name__ == "__main__":
    main()
