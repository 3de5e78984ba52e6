"""Reloading the knowledge base in every process: a generation counter in PostgreSQL.

`flask kb reload` validates the file and bumps the counter; each running process notices the
change (and, in any case, a changed file on disk) and swaps the new valid version in atomically,
keeping the old one on error.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable, Optional

from app.knowledge.base import KnowledgeStore, ReloadResult
from app.models import AppState
from app.platform.db import Database

log = logging.getLogger(__name__)
KEY = "kb_generation"


def generation(db: Database) -> Optional[str]:
    """The KB generation counter `flask kb reload` bumps (shared by all processes)."""
    with db.session() as s:
        row = s.get(AppState, KEY)
        return row.value if row else None


def request_reload(kb_store: KnowledgeStore, db: Database) -> ReloadResult:
    """Reload this process' KB and, when valid, tell every other process to reload too."""
    result = kb_store.reload()
    if result.ok:
        with db.session() as s:
            row = s.get(AppState, KEY) or AppState(key=KEY, value="0")
            row.value = str(int(row.value or 0) + 1)
            s.add(row)
    return result


class KbWatcher:
    """Polls the file and the generation counter; reloads when either changed."""

    def __init__(self, kb_store: KnowledgeStore, generation: Callable[[], Optional[str]],
                 interval_s: float = 2.0) -> None:
        self.kb_store, self.generation = kb_store, generation
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._seen: Optional[str] = None
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        try:
            self._seen = self.generation()
        except Exception as exc:  # noqa: BLE001 - DB may be down at start; tick retries
            log.warning("kb watcher: %s", exc)
        self._thread = threading.Thread(target=self._loop, name="kb-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def tick(self) -> Optional[ReloadResult]:
        result = self.kb_store.reload_if_changed()
        generation = self.generation()
        if generation != self._seen:
            self._seen = generation
            result = self.kb_store.reload()
        if result is not None:
            if result.ok:
                log.info("knowledge base version %s in use", result.version)
            else:
                log.error("knowledge base on disk is invalid, keeping %s: %s", result.version,
                          "; ".join(result.errors[:5]))
        return result

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.tick()
            except Exception as exc:  # noqa: BLE001 - keep watching through DB hiccups
                log.warning("kb watcher: %s", exc)
