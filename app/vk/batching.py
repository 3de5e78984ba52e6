"""An outbound channel that carries many turns' VK calls in one request.

A webinar's code word brings hundreds of new clients at once, and VK allows a community 20
requests a second. Each request can carry up to 25 API calls with `execute`, so the calls of
concurrent turns are queued and sent together: a dispatcher thread waits for the budget's next
slot (calls keep arriving meanwhile), then takes up to 25 calls — replies first, then one
`users.get` for every name asked for, then "typing…" that is still worth showing — and runs the
request on a small pool, so requests are never serialised during HTTP.

Per-call errors come back in `execute_errors` and fail only their own call. The parts of one
message always travel in the same request, in order. With a single call waiting, it is sent as
itself (no `execute`).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Optional

from app.vk.api import VkClient, send_params
from app.vk.channel import OutboundMessage
from app.vk.errors import VkError, VkNetworkError, error_from_code

log = logging.getLogger(__name__)

MAX_CALLS = 25  # VK's limit of API calls inside one execute
MAX_USER_IDS = 1000  # users.get ids in one call
SEND, NAMES, TYPING = 0, 1, 2  # priorities: replies always go ahead of typing


@dataclass
class _Unit:
    """Calls that must travel together (the parts of one message), or one call."""

    kind: int
    calls: list[tuple[str, dict[str, Any]]]
    future: Future[Any] = field(default_factory=Future)
    at: float = field(default_factory=time.monotonic)


def execute_code(calls: list[tuple[str, dict[str, Any]]]) -> str:
    """VKScript for `execute`: `return [API.m({...}), …];`, one JSON object per call."""
    inner = ", ".join(f"API.{method}({json.dumps(params, ensure_ascii=False)})"
                      for method, params in calls)
    return f"return [{inner}];"


def split_execute(raw: dict[str, Any], calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """Each call's result, or a `VkError` for a call that failed (`false` in the response,
    its error taken in order from `execute_errors`)."""
    results = raw.get("response")
    if not isinstance(results, list) or len(results) != len(calls):
        err = VkNetworkError(f"unexpected execute answer: {str(raw)[:200]}", method="execute")
        return [err] * len(calls)
    errors = list(raw.get("execute_errors") or [])
    out: list[Any] = []
    for (method, _), value in zip(calls, results, strict=False):
        if value is False:
            e = errors.pop(0) if errors else {}
            out.append(error_from_code(int(e.get("error_code") or 0),
                                       str(e.get("error_msg") or "execute call failed"),
                                       str(e.get("method") or method)))
        else:
            out.append(value)
    return out


class BatchingChannel:
    """`OutboundChannel` over a `VkClient`: queued calls, one `execute` per budget slot."""

    def __init__(self, api: VkClient, *, in_flight: int = 8, linger_s: float = 0.1,
                 typing_stale_s: float = 2.0, typing_max_backlog_s: float = 1.0,
                 result_timeout_s: float = 60.0) -> None:
        self.api = api
        self.linger_s = linger_s
        self.typing_stale_s = typing_stale_s
        self.typing_max_backlog_s = typing_max_backlog_s
        self.result_timeout_s = result_timeout_s
        self._cond = threading.Condition()
        self._queue: list[_Unit] = []
        self._pool = ThreadPoolExecutor(in_flight, thread_name_prefix="vk-batch")
        self._thread: Optional[threading.Thread] = None
        self._stopped = False
        self.stats = {"requests": 0, "executes": 0, "calls": 0, "typing_skipped": 0}

    # ---- OutboundChannel ------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> list[int]:
        unit = self._put(SEND, [("messages.send", p) for p in send_params(message)])
        return [int(i) for i in self._wait(unit)]

    def set_typing(self, peer_id: int) -> None:
        """Shown only while the budget has room: under a burst the reply matters, not this."""
        with self._cond:
            busy = len(self._queue) >= MAX_CALLS
        if busy or self.api.budget.backlog_s() > self.typing_max_backlog_s:
            self.stats["typing_skipped"] += 1
            return
        params = {"peer_id": int(peer_id), "type": "typing", "group_id": self.api.group_id}
        self._put(TYPING, [("messages.setActivity", params)])

    def get_user_name(self, user_id: int) -> tuple[str, str] | None:
        unit = self._put(NAMES, [("users.get", {"user_ids": str(int(user_id))})])
        names: dict[int, tuple[str, str]] = self._wait(unit)
        return names.get(int(user_id))

    def get_user_names(self, user_ids: list[int]) -> dict[int, tuple[str, str]]:
        return self.api.get_user_names(user_ids)

    def intent_users(self, intent: str, subscribe_id: Optional[int] = None) -> list[int]:
        return self.api.intent_users(intent, subscribe_id)

    def answer_event(self, event_id: str, user_id: int, peer_id: int,
                     event_data: dict[str, Any] | None = None) -> None:
        self.api.answer_event(event_id, user_id, peer_id, event_data)

    def health(self) -> dict[str, Any]:
        with self._cond:
            queued = len(self._queue)
        return {**self.api.health(), "batching": {**self.stats, "queued": queued}}

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._pool.shutdown(wait=False)

    # ---- the queue ------------------------------------------------------------------------

    def _put(self, kind: int, calls: list[tuple[str, dict[str, Any]]]) -> _Unit:
        unit = _Unit(kind, calls)
        with self._cond:
            if self._thread is None:  # started on first use: building the app starts nothing
                self._thread = threading.Thread(target=self._dispatch, name="vk-dispatch",
                                                daemon=True)
                self._thread.start()
            self._queue.append(unit)
            self._cond.notify()
        return unit

    def _wait(self, unit: _Unit) -> Any:
        try:
            result = unit.future.result(timeout=self.result_timeout_s)
        except TimeoutError as exc:  # concurrent.futures.TimeoutError is TimeoutError (3.11)
            raise VkNetworkError("no answer from the VK dispatcher in time",
                                 method=unit.calls[0][0]) from exc
        if isinstance(result, VkError):
            raise result
        return result

    def _dispatch(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                self._linger()
            self.api.budget.take()  # while we wait for the slot, more calls join the queue
            batch = self._take_batch()
            if batch:
                self._pool.submit(self._run, batch)

    def _linger(self) -> None:
        """Give calls arriving together a moment to share a request (a reply waits at most
        `linger_s` more; a full request goes at once). Called with the lock held."""
        until = min(u.at for u in self._queue) + self.linger_s
        while not self._stopped and sum(len(u.calls) for u in self._queue) < MAX_CALLS:
            left = until - time.monotonic()
            if left <= 0:
                return
            self._cond.wait(left)

    def _take_batch(self) -> list[_Unit]:
        now = time.monotonic()
        with self._cond:
            fresh: list[_Unit] = []
            for u in self._queue:  # typing that has waited too long is no longer worth a slot
                if u.kind == TYPING and now - u.at > self.typing_stale_s:
                    u.future.set_result(None)
                    self.stats["typing_skipped"] += 1
                else:
                    fresh.append(u)
            fresh.sort(key=lambda u: (u.kind, u.at))
            batch, size, names = [], 0, 0
            for u in fresh:
                if u.kind == NAMES:
                    if names >= MAX_USER_IDS:
                        continue
                    cost = 1 if names == 0 else 0  # every name rides in one users.get
                    names += 1
                else:
                    cost = len(u.calls)
                if size + cost > MAX_CALLS:
                    continue
                batch.append(u)
                size += cost
            taken = {id(u) for u in batch}
            self._queue = [u for u in fresh if id(u) not in taken]
        return batch

    # ---- one request ----------------------------------------------------------------------

    def _run(self, batch: list[_Unit]) -> None:
        calls, owners = self._plan(batch)
        try:
            if len(calls) == 1:
                results: list[Any] = [self.api.call(*calls[0], slot_taken=True)]
            else:
                raw = self.api.call("execute", {"code": execute_code(calls)}, slot_taken=True,
                                    raw=True)
                results = split_execute(raw, calls)
                self.stats["executes"] += 1
                for failed in (r for r in results if isinstance(r, VkError)):
                    self.api.record_error(failed)  # one call failed: /healthz names it
        except VkError as exc:
            results = [exc] * len(calls)
        except Exception as exc:  # noqa: BLE001 - a waiting turn must get an answer, not hang
            results = [VkNetworkError(f"{type(exc).__name__}: {exc}", method="execute")] \
                * len(calls)
        self.stats["requests"] += 1
        self.stats["calls"] += len(calls)
        self._settle(batch, owners, results)

    @staticmethod
    def _plan(batch: list[_Unit]) -> tuple[list[tuple[str, dict[str, Any]]], list[Any]]:
        """The request's calls, and who owns each result (a unit, or the name units)."""
        calls: list[tuple[str, dict[str, Any]]] = []
        owners: list[Any] = []
        names = [u for u in batch if u.kind == NAMES]
        for u in batch:
            if u.kind == NAMES:
                continue
            for call in u.calls:
                calls.append(call)
                owners.append(u)
        if names:
            ids = ",".join(dict.fromkeys(u.calls[0][1]["user_ids"] for u in names))
            calls.append(("users.get", {"user_ids": ids}))
            owners.append(names)
        return calls, owners

    @staticmethod
    def _settle(batch: list[_Unit], owners: list[Any], results: list[Any]) -> None:
        per_unit: dict[int, list[Any]] = {}
        for owner, result in zip(owners, results, strict=False):
            if isinstance(owner, list):  # the merged users.get
                for u in owner:
                    u.future.set_result(result if isinstance(result, VkError)
                                        else _names(result))
            else:
                per_unit.setdefault(id(owner), []).append(result)
        for u in batch:
            if u.kind == NAMES:
                continue
            got = per_unit.get(id(u), [])
            failed = next((r for r in got if isinstance(r, VkError)), None)
            u.future.set_result(failed if failed is not None else got)


def _names(users: Any) -> dict[int, tuple[str, str]]:
    return {int(u["id"]): (u.get("first_name", ""), u.get("last_name", ""))
            for u in users or [] if isinstance(u, dict) and "id" in u}
