"""The turns this process is running, so a stopping process can release what it cannot finish.

Registered by `claims.Heartbeat` for the life of a turn. On SIGTERM (every deploy) the worker
pool stops claiming, `drain` waits for turns that finish in time, and releases the rest at once
(their claim expires now, their heartbeat stops), so the next process takes them in seconds
instead of waiting for the lease to run out.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Protocol

log = logging.getLogger(__name__)


class Lease(Protocol):
    turn_id: int

    def stop(self) -> None: ...


class InFlight:
    def __init__(self) -> None:
        self._leases: dict[int, Lease] = {}
        self._released: set[int] = set()
        self._cond = threading.Condition()
        self.draining = False

    def is_released(self, turn_id: int) -> bool:
        """True once the turn was handed to the next process: this one must not store, send or
        postpone anything more for it."""
        with self._cond:
            return turn_id in self._released

    def add(self, lease: Lease) -> None:
        with self._cond:
            self._leases[lease.turn_id] = lease

    def remove(self, turn_id: int) -> None:
        with self._cond:
            self._leases.pop(turn_id, None)
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._leases)

    def drain(self, budget_s: float, release: Callable[[list[Lease]], None]) -> int:
        """Wait up to `budget_s` for running turns to end; release the rest. Returns how many
        were released."""
        self.draining = True
        deadline = time.monotonic() + max(0.0, budget_s)
        with self._cond:
            while self._leases and time.monotonic() < deadline:
                self._cond.wait(max(0.01, deadline - time.monotonic()))
            left = list(self._leases.values())
            self._released.update(lease.turn_id for lease in left)
        for lease in left:
            lease.stop()
        if left:
            release(left)
            log.warning("shutdown: released %d turn(s) for the next process: %s", len(left),
                        [lease.turn_id for lease in left])
        return len(left)
