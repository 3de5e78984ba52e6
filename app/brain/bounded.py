"""A ceiling on concurrent model calls in one process (`MODEL_MAX_CONCURRENCY`).

Turns are I/O-bound: a worker thread spends seconds waiting on the model. The process runs many
turns at once, and this wrapper keeps the calls that reach the provider under the ceiling its
quota allows; a call over it waits for a free slot (its turn's claim is kept alive by the
heartbeat meanwhile), so a burst is slowed down, never dropped.
"""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Optional

from app.brain.contract import Brain, Decisions, StageResult, TurnContext

if TYPE_CHECKING:
    from app.brain.analysis import Analysis


class BoundedBrain:
    """A `Brain` that lets at most `limit` calls of `inner` run at once."""

    def __init__(self, inner: Brain, limit: int) -> None:
        self.inner = inner
        self.name = inner.name
        self.limit = int(limit)
        self._slots = threading.BoundedSemaphore(self.limit)
        self._lock = threading.Lock()
        self.waiting = 0
        self.waited_s = 0.0

    def __getattr__(self, item: str) -> object:  # model ids, usage helpers of the provider
        return getattr(self.inner, item)

    def analyze(self, ctx: TurnContext) -> StageResult:
        with self._slot():
            return self.inner.analyze(ctx)

    def write_reply(self, ctx: TurnContext, analysis: Optional[Analysis],
                    decisions: Decisions) -> StageResult:
        with self._slot():
            return self.inner.write_reply(ctx, analysis, decisions)

    def _slot(self) -> "_Slot":
        return _Slot(self)


class _Slot:
    def __init__(self, owner: BoundedBrain) -> None:
        self.owner = owner

    def __enter__(self) -> None:
        o = self.owner
        if o._slots.acquire(blocking=False):
            return
        t0 = time.monotonic()
        with o._lock:
            o.waiting += 1
        o._slots.acquire()
        with o._lock:
            o.waiting -= 1
            o.waited_s += time.monotonic() - t0

    def __exit__(self, *exc: object) -> None:
        self.owner._slots.release()
