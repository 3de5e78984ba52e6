"""Group commit for the webhook: concurrent requests share one transaction per flush.

A request hands its unit of work (a function of a connection: the one-statement insert of a
`message_new`) to the process's writer thread and waits. The writer takes whatever is queued
(up to `max_batch`), runs the units in one transaction and commits once; only then is each
waiting request answered. Nothing is acknowledged before it is durable: a kill -9 loses only
requests that were not answered yet, and VK sends those again.

One unit's failure must not fail the others: the batch runs without savepoints (the cheap,
usual case); if anything in it fails, the transaction is rolled back and each unit is run
again in its own transaction, so the failing unit gets its own error and the rest are stored.
Units are ordered by a caller's key (the VK user id) so that batches of two processes lock
client and dialog rows in the same order and cannot deadlock each other.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
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
    """One writer thread per process, started on first use (after gunicorn's fork)."""

    def __init__(self, engine: Callable[[], Engine], max_batch: int = DEFAULT_MAX_BATCH,
                 wait_s: float = DEFAULT_WAIT_S) -> None:
        self._engine = engine
        self.max_batch = max(1, max_batch)
        self.wait_s = wait_s
        self.stats = Stats()
        self._queue: queue.SimpleQueue[Optional[_Job]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._pid = 0

    def run(self, work: Work, key: tuple[Any, ...] = ()) -> Any:
        """Run `work(conn)` in the next batch; return its result once the batch is committed."""
        job = _Job(work, key)
        self._writer_queue().put(job)
        if not job.done.wait(self.wait_s):
            raise GroupCommitTimeout(f"batch not committed within {self.wait_s:.0f} s")
        if job.error is not None:
            raise job.error
        return job.result

    def pending(self) -> int:
        return self._queue.qsize()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Flush what is queued, then end the writer."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout_s)

    def _writer_queue(self) -> queue.SimpleQueue[Optional[_Job]]:
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked child: a writer of its own
                self._pid, self._thread, self._queue = os.getpid(), None, queue.SimpleQueue()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, args=(self._queue,),
                                                name="webhook-group-commit", daemon=True)
                self._thread.start()
            return self._queue

    def _loop(self, jobs: queue.SimpleQueue[Optional[_Job]]) -> None:
        stopping = False
        while not stopping:
            first = jobs.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    job = jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                batch.append(job)
            self._flush(sorted(batch, key=lambda j: j.key))

    def _flush(self, batch: list[_Job]) -> None:
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
