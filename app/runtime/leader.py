"""APScheduler inside the app, but exactly one process fires: the holder of a PostgreSQL
advisory lock on a dedicated connection. If the leader dies, its connection closes, the lock
is released and another process takes over on its next tick."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import text
from sqlalchemy.engine import Connection

from app.platform.clock import Clock
from app.platform.db import Database

log = logging.getLogger(__name__)
LOCK_KEY = 7_241_139_011  # "neuro reminders"


class LeaderLock:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn: Optional[Connection] = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    def acquire(self) -> bool:
        """True if this process is (still) the leader."""
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT 1"))
                return True
            except Exception as exc:  # noqa: BLE001 - a broken connection means a lost lock
                log.warning("leader connection lost: %s", exc)
                self._drop()
        conn = self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
        if got:
            self._conn = conn
            log.info("this process is now the reminder leader")
            return True
        conn.close()
        return False

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
            except Exception as exc:  # noqa: BLE001 - closing releases it anyway
                log.warning("advisory unlock failed: %s", exc)
            self._drop()

    def _drop(self) -> None:
        try:
            if self._conn is not None:
                self._conn.invalidate()
                self._conn.close()
        finally:
            self._conn = None


@dataclass(frozen=True)
class Job:
    """A job of the leader: `run()` returns how many things it handled; `every_s` > 0 runs it at
    most that often (else on every tick); `counted` adds its result to `fired`."""

    name: str
    run: Callable[[], int]
    every_s: float = 0.0
    counted: bool = False


class Leader:
    """Ticks every `interval_s`; only the holder of the advisory lock runs the jobs handed in
    (due reminders, the access scan, pruning processed events: the composition decides)."""

    def __init__(self, db: Database, clock: Clock, jobs: list[Job], interval_s: float = 5.0) -> None:
        self.clock = clock
        self.jobs = jobs
        self.interval_s = interval_s
        self.lock = LeaderLock(db)
        self._sched: Optional[BackgroundScheduler] = None
        self._tick_lock = threading.Lock()
        self.last_tick: Optional[datetime] = None
        self.last_run: dict[str, datetime] = {}
        self.fired = 0
        self.last_error: Optional[str] = None

    def start(self) -> None:
        self._sched = BackgroundScheduler(timezone=timezone.utc)
        self._sched.add_job(self.tick, "interval", seconds=self.interval_s, max_instances=1,
                            coalesce=True, next_run_time=datetime.now(timezone.utc),
                            id="reminders")
        self._sched.start()

    def stop(self, wait: bool = False) -> None:
        """Stop firing (a running tick ends on its own) and give up the leadership."""
        if self._sched is not None:
            self._sched.shutdown(wait=wait)
            self._sched = None
        self.lock.release()

    def tick(self) -> int:
        """One scheduler round; only the leader runs the jobs. Returns the counted jobs' total
        (how many reminders were handled)."""
        with self._tick_lock:
            try:
                if not self.lock.acquire():
                    return 0
                now = self.clock.now()
                self.last_tick = now
                n = 0
                for job in self.jobs:
                    last = self.last_run.get(job.name)
                    if job.every_s and last is not None and \
                            (now - last).total_seconds() < job.every_s:
                        continue
                    self.last_run[job.name] = now  # a failing job waits its interval too
                    try:
                        done = job.run()
                    except Exception as exc:  # noqa: BLE001 - one job never stops the others
                        self.last_error = f"{job.name}: {type(exc).__name__}: {exc}"[:300]
                        log.exception("leader job %s failed", job.name)
                        continue
                    n += done if job.counted else 0
                self.fired += n
                return n
            except Exception as exc:  # noqa: BLE001 - the scheduler thread must survive
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.exception("reminder tick failed")
                return 0

    def health(self) -> dict[str, Any]:
        return {"running": self._sched is not None, "leader": self.lock.held,
                "last_tick": self.last_tick.isoformat() if self.last_tick else None,
                "fired": self.fired, "last_error": self.last_error}
