"""VK's call budget: at most `rate` calls a second for the whole community.

VK counts a community token's calls (20 a second), whatever process or replica makes them, so
the budget lives where all of them can see it: one PostgreSQL row per community whose
`next_at` is the first moment the next call may start. Taking a slot is one statement
(`UPDATE … SET next_at = greatest(next_at, now) + gap RETURNING`), so slots are handed out in
order, never twice, by the database's clock. Without a database (CLI, unit tests) the same
pacing runs in-process.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Protocol

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)
# VK counts calls per second as they arrive; network jitter can bunch two calls that left
# 1/20 s apart, so the pacing keeps a small margin below the limit.
SAFETY = 0.9

_TAKE = text("""
    INSERT INTO vk_rate_budget (group_id, next_at)
    VALUES (:group_id, clock_timestamp() + make_interval(secs => :gap))
    ON CONFLICT (group_id) DO UPDATE
       SET next_at = greatest(vk_rate_budget.next_at, clock_timestamp())
                     + make_interval(secs => :gap)
    RETURNING extract(epoch FROM (next_at - clock_timestamp())) - :gap
""")
_BACKLOG = text("SELECT extract(epoch FROM (next_at - clock_timestamp())) "
                "FROM vk_rate_budget WHERE group_id = :group_id")


class RateBudget(Protocol):
    def take(self) -> float:
        """Block until the next call may start; returns the seconds waited."""

    def backlog_s(self) -> float:
        """How far ahead the next free slot lies (0 when a call could start now)."""


class LocalBudget:
    """The pacing inside one process (no database)."""

    def __init__(self, rate: float, sleep: Callable[[float], None] = time.sleep) -> None:
        self.gap = 1.0 / max(0.1, rate * SAFETY)
        self._lock = threading.Lock()
        self._next = 0.0
        self._sleep = sleep

    def reserve(self) -> float:
        """The seconds until this caller's slot (the slot is taken)."""
        with self._lock:
            now = time.monotonic()
            slot = max(self._next, now)
            self._next = slot + self.gap
        return slot - now

    def take(self) -> float:
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return max(0.0, wait)

    def backlog_s(self) -> float:
        with self._lock:
            return max(0.0, self._next - time.monotonic())


class PgBudget:
    """The community's budget in PostgreSQL, shared by every process and replica. If the
    database cannot be reached, this process paces itself with its share of the rate."""

    def __init__(self, engine: Callable[[], Engine], group_id: int, rate: float,
                 processes: int = 1) -> None:
        self._engine = engine
        self.group_id = int(group_id)
        self.gap = 1.0 / max(0.1, rate * SAFETY)
        self._fallback = LocalBudget(rate / max(1, processes))

    def take(self) -> float:
        try:
            with self._engine().begin() as conn:
                wait = float(conn.execute(_TAKE, {"group_id": self.group_id,
                                                  "gap": self.gap}).scalar_one())
        except SQLAlchemyError as exc:
            log.warning("vk budget: database unreachable, pacing locally: %s", str(exc)[:200])
            return self._fallback.take()
        if wait > 0:
            time.sleep(wait)
        return max(0.0, wait)

    def backlog_s(self) -> float:
        try:
            with self._engine().connect() as conn:
                value = conn.execute(_BACKLOG, {"group_id": self.group_id}).scalar()
        except SQLAlchemyError:
            return self._fallback.backlog_s()
        return max(0.0, float(value or 0.0))
