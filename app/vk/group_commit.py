"""Group commit for the webhook: concurrent requests share one transaction per flush.

A request hands its unit of work (a function of a connection: the one-statement insert of a
`message_new`) to the committer and waits. Leader/follower, no thread of its own: when no flush
is running, the request's own thread becomes the leader, takes every queued unit (up to
`max_batch`), runs them in one transaction and commits once; requests arriving meanwhile queue
up for the next flush, run by one of them. A lone request pays no hand-off. Each request is
answered only after the transaction holding its unit committed: nothing is acknowledged before
it is durable, so a kill -9 loses only requests that were not answered, and VK sends those again.

One unit's failure must not fail the others: the batch runs without savepoints (the cheap,
usual case); if anything in it fails, the transaction is rolled back and each unit is run
again in its own transaction, so the failing unit gets its own error and the rest are stored.
Units are ordered by a caller's key (the VK user id) so that batches of two processes lock
client and dialog rows in the same order and cannot deadlock each other.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

Work = Callable[[Connection], Any]
DEFAULT_MAX_BATCH = 64
DEFAULT_WAIT_S = 20.0  # a request gives up (HTTP 500, VK retries) if its batch takes longer


class GroupCommitTimeout(RuntimeError):
    """The batch was not committed in time; the unit may still be stored (dedupe covers it)."""


@dataclass(eq=False)
class _Job:
    work: Work
    key: tuple[Any, ...]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: Optional[BaseException] = None


@dataclass
class Stats:
    batches: int = 0
    units: int = 0
    largest: int = 0
    fallbacks: int = 0  # batches re-run unit by unit after a failure


class GroupCommitter:
    """Safe to share between the threads of a process (and to inherit over a fork: a batch
    is only ever in flight inside a request)."""

    def __init__(self, engine: Callable[[], Engine], max_batch: int = DEFAULT_MAX_BATCH,
                 wait_s: float = DEFAULT_WAIT_S) -> None:
        self._engine = engine
        self.max_batch = max(1, max_batch)
        self.wait_s = wait_s
        self.stats = Stats()
        self._cond = threading.Condition()
        self._queued: list[_Job] = []
        self._flushing = False

    def run(self, work: Work, key: tuple[Any, ...] = ()) -> Any:
        """Run `work(conn)` in the next batch; return its result once the batch is committed."""
        job = _Job(work, key)
        deadline = time.monotonic() + self.wait_s
        with self._cond:
            self._queued.append(job)
        while not job.done.is_set():
            batch = self._lead_or_wait(job, deadline)
            if batch:
                self._lead(batch)
        if job.error is not None:
            raise job.error
        return job.result

    def pending(self) -> int:
        with self._cond:
            return len(self._queued)

    def stop(self) -> None:
        """Nothing to stop: flushes run in the requests' own threads."""

    def _lead_or_wait(self, job: _Job, deadline: float) -> list[_Job]:
        with self._cond:
            if job.done.is_set():
                return []
            if not self._flushing:
                self._flushing = True
                batch, self._queued = (self._queued[:self.max_batch],
                                       self._queued[self.max_batch:])
                return batch
            left = deadline - time.monotonic()
            if left <= 0:
                if job in self._queued:
                    self._queued.remove(job)
                raise GroupCommitTimeout(f"batch not committed within {self.wait_s:.0f} s")
            self._cond.wait(left)
            return []

    def _lead(self, batch: list[_Job]) -> None:
        try:
            self._flush(sorted(batch, key=lambda j: j.key))
        finally:
            with self._cond:
                self._flushing = False
                self._cond.notify_all()

    def _flush(self, batch: list[_Job]) -> None:
        """Every job of the batch ends with `done` set (a result or its own error)."""
        self.stats.batches += 1
        self.stats.units += len(batch)
        self.stats.largest = max(self.stats.largest, len(batch))
        try:
            with self._engine().begin() as conn:
                results = [job.work(conn) for job in batch]
        except Exception as exc:  # noqa: BLE001 - handed to the waiting requests below
            if len(batch) == 1:
                batch[0].error = exc
                batch[0].done.set()
                return
            self.stats.fallbacks += 1
            log.warning("vk.group_commit batch of %d failed (%s): storing one by one",
                        len(batch), str(exc)[:200])
            for job in batch:
                self._flush_one(job)
            return
        for job, result in zip(batch, results):
            job.result = result
            job.done.set()

    def _flush_one(self, job: _Job) -> None:
        try:
            with self._engine().begin() as conn:
                job.result = job.work(conn)
        except Exception as exc:  # noqa: BLE001 - re-raised in the request's thread
            job.error = exc
        finally:
            job.done.set()
