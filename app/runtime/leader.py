"""APScheduler inside the app, but exactly one process fires: the holder of a PostgreSQL
advisory lock on a dedicated connection. If the leader dies, its connection closes, the lock
is released and another process takes over on its next tick."""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Any, Callable, Optional, Sequence, TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import text
from sqlalchemy.engine import Connection

from app.reminders.access import plan_access_reminders

if TYPE_CHECKING:
    from app.composition.services import Services

log = logging.getLogger(__name__)
LOCK_KEY = 7_241_139_011  # "neuro reminders"
ACCESS_SCAN_EVERY_S = 600


class LeaderLock:
    def __init__(self, db: Any) -> None:
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


class ReminderScheduler:
    def __init__(self, svc: Services, fire_due: Callable[[Any], int], interval_s: float = 5.0,
                 jobs: Sequence[tuple[str, float, Callable[[], Any]]] = ()) -> None:
        """`fire_due(svc)` handles the due reminders (the turns package's proactive turns);
        `jobs` (name, every_s, run) run on the leader before it, each at most every `every_s`."""
        self.svc = svc
        self.fire_due = fire_due
        self.interval_s = interval_s
        self.lock = LeaderLock(svc.db)
        self._sched: Optional[BackgroundScheduler] = None
        self._tick_lock = threading.Lock()
        self.last_tick: Optional[datetime] = None
        self.last_access_scan: Optional[datetime] = None
        self.jobs = list(jobs)
        self._job_runs: dict[str, datetime] = {}
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
        """One scheduler round; only the leader fires. Returns how many reminders were handled."""
        with self._tick_lock:
            try:
                if not self.lock.acquire():
                    return 0
                now = self.svc.clock.now()
                self.last_tick = now
                if (self.last_access_scan is None
                        or (now - self.last_access_scan).total_seconds() >= ACCESS_SCAN_EVERY_S):
                    plan_access_reminders(self.svc)
                    self._prune(now)
                    self.last_access_scan = now
                self._run_jobs(now)
                n = self.fire_due(self.svc)
                self.fired += n
                return n
            except Exception as exc:  # noqa: BLE001 - the scheduler thread must survive
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.exception("reminder tick failed")
                return 0

    def _run_jobs(self, now: datetime) -> None:
        for name, every_s, run in self.jobs:
            last = self._job_runs.get(name)
            if last is not None and (now - last).total_seconds() < every_s:
                continue
            self._job_runs[name] = now
            try:
                run()
            except Exception:  # noqa: BLE001 - one job's failure never stops the reminders
                log.exception("leader job %s failed", name)

    def _prune(self, now: Any) -> None:
        from app.vk.inbound.inbox import prune_events

        with self.svc.db.session() as s:
            n = prune_events(s, now)
        if n:
            log.info("forgot %d processed VK event ids older than the retry window", n)

    def health(self) -> dict[str, Any]:
        return {"running": self._sched is not None, "leader": self.lock.held,
                "last_tick": self.last_tick.isoformat() if self.last_tick else None,
                "fired": self.fired, "last_error": self.last_error}
