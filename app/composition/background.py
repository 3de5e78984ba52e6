"""`Background`: this process' runners (KB watcher, worker pool, leader jobs), constructed from
the parts and handed the callables they run. Started by the gunicorn hook and `make run`,
never by `create_app`; stopped with a drain on SIGTERM."""
from __future__ import annotations

import logging
from typing import Any, Optional

from app.composition.build import Parts
from app.runtime import Job, KbWatcher, Leader, Lease, WorkerPool, generation
from app.turns import Claim

log = logging.getLogger(__name__)
ACCESS_SCAN_EVERY_S = 600


def worker_pool(parts: Parts, threads: int, poll_s: float) -> WorkerPool[Claim]:
    """Threads that claim due dialogs and run their turns."""
    return WorkerPool(parts.claims.next, parts.turns.process, threads, poll_s, wake=parts.wake,
                      draining=lambda: parts.inflight.draining)


def leader(parts: Parts, interval_s: float = 5.0) -> Leader:
    """The advisory-lock scheduler and its jobs: the access scan and pruning of processed VK
    events (every ACCESS_SCAN_EVERY_S), then the due reminders (every tick)."""
    from app.reminders.access import plan_access_reminders

    def access_scan() -> int:
        return plan_access_reminders(parts.db, parts.clock.now(), parts.kb_store.current,
                                     parts.settings.access_reminder_days)

    def prune() -> int:
        from app.vk.inbound.inbox import prune_events

        with parts.db.session() as s:
            n = prune_events(s, parts.clock.now())
        if n:
            log.info("forgot %d processed VK event ids older than the retry window", n)
        return n

    return Leader(parts.db, parts.clock,
                  [Job("access_scan", access_scan, every_s=ACCESS_SCAN_EVERY_S),
                   Job("prune_events", prune, every_s=ACCESS_SCAN_EVERY_S),
                   Job("reminders", parts.turns.fire_due, counted=True)], interval_s)


def kb_watcher(parts: Parts) -> KbWatcher:
    return KbWatcher(parts.kb_store, lambda: generation(parts.db))


class Background:
    """start / stop(drain) / health of this process' runners."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self.kb_watcher: Optional[KbWatcher] = None
        self.workers: Optional[WorkerPool[Claim]] = None
        self.leader: Optional[Leader] = None
        self.started = False

    def start(self) -> None:
        """Start the KB watcher, the worker pool and the leader (once)."""
        if self.started:
            return
        self.started = True
        settings = self.parts.settings
        self.kb_watcher = kb_watcher(self.parts)
        self.kb_watcher.start()
        if settings.worker_threads > 0:
            self.workers = worker_pool(self.parts, settings.worker_threads, settings.worker_poll_s)
            self.workers.start()
        if settings.run_scheduler:
            self.leader = leader(self.parts)
            self.leader.start()

    def stop(self, drain_s: float) -> int:
        """Graceful stop (SIGTERM): stop claiming, let turns that end within `drain_s` finish,
        and release the rest to the next process at once. Returns how many were released."""
        for part in (self.leader, self.workers):
            if part is not None:
                part.stop(wait=False)
        self.leader = self.workers = None  # not joined: released turns are abandoned, not awaited

        def release(leases: list[Lease]) -> None:
            self.parts.claims.release([lease.turn_id for lease in leases])

        released = self.parts.inflight.drain(drain_s, release)
        self.halt()
        return released

    def halt(self) -> None:
        """Stop every runner at once (no drain)."""
        if self.leader is not None:
            self.leader.stop()
        if self.workers is not None:
            self.workers.stop()
        if self.kb_watcher is not None:
            self.kb_watcher.stop()

    def health(self) -> dict[str, dict[str, Any]]:
        return {"workers": self.workers.health() if self.workers else {"threads": 0, "alive": 0},
                "scheduler": self.leader.health() if self.leader else {"running": False}}
