"""A pool of worker threads fed two callables: `claim` (the next due job, or None) and
`process` (run it). The turns package supplies them; this module knows no turn code."""
from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any, Callable, Generic, Optional, TypeVar

log = logging.getLogger(__name__)


J = TypeVar("J")


class WorkerPool(Generic[J]):
    def __init__(self, claim: Callable[[], Optional[J]], process: Callable[[J], object],
                 threads: int, poll_s: float, wake: Optional[threading.Event] = None,
                 draining: Callable[[], bool] = lambda: False) -> None:
        """`wake` is set to look for due work at once; `draining` says the process is stopping."""
        self.claim, self.process = claim, process
        self.wake = wake or threading.Event()
        self.draining = draining
        self.size = threads
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.processed = 0
        self.last_error: Optional[str] = None
        self._lock = threading.Lock()
        self._quiet_until = 0.0  # shared: idle threads poll the database once per interval
        self._claim_lock = threading.Lock()

    def start(self) -> None:
        for i in range(self.size):
            t = threading.Thread(target=self._loop, name=f"turn-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        log.info("worker pool started with %d threads", self.size)

    def stop(self, wait: bool = True, timeout: float = 5.0) -> None:
        """Stop claiming; with `wait`, join the threads (all within `timeout` seconds)."""
        self._stop.set()
        self.wake.set()
        if not wait:
            return
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()

    @property
    def alive(self) -> int:
        return sum(t.is_alive() for t in self._threads)

    def run_once(self) -> bool:
        """Claim and process one due dialog. True if there was one (also used by tests)."""
        claim = self._claim()
        if claim is None:
            return False
        self._process(claim)
        return True

    def _claim(self) -> Optional[J]:
        return self.claim()

    def _process(self, claim: J) -> None:
        self.process(claim)
        with self._lock:
            self.processed += 1

    def _next_claim(self) -> Optional[J]:
        """Claims go one at a time per process; one empty answer quiets the pool for a poll
        interval, so idle threads ask the database once per interval, not once each."""
        with self._claim_lock:
            if self._stop.is_set() or self.draining():
                return None
            if time.monotonic() < self._quiet_until:
                return None
            claim = self._claim()
            if claim is None:
                self._quiet_until = time.monotonic() + self.poll_s * (0.75 + random.random() / 2)
            return claim

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                claim = self._next_claim()
                if claim is not None:
                    self._process(claim)
                    continue
            except Exception as exc:  # noqa: BLE001 - a worker thread must survive DB outages
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("worker: %s", self.last_error)
                self._stop.wait(min(5.0, self.poll_s * 4))
                continue
            idle_for = max(0.01, self._quiet_until - time.monotonic())
            if self.wake.wait(idle_for):
                self.wake.clear()
                self._quiet_until = 0.0

    def health(self) -> dict[str, Any]:
        return {"threads": self.size, "alive": self.alive, "processed": self.processed,
                "last_error": self.last_error}
