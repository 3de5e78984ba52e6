"""In-process stand-in for the VK API methods the bot uses.

Served over loopback HTTP at `/method/<name>` by `devchat/vk_http.py` for the local dev chat
and for tests (tests/fakes/vk_server.py). `handle()` returns VK's exact JSON envelope:
`{"response": ...}` or `{"error": {"error_code", "error_msg", "request_params"}}`.
VK's send rules (reply window, intents) are simulated by `rules` (`vk_rules.SendRules`).
Thread-safe.
"""
from __future__ import annotations

import collections
import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from app.devchat.vk_rules import ERROR_MESSAGES, SendRules

MAX_VK_MESSAGE_LEN = 4096

_FIRST_NAMES = ("Анна", "Мария", "Елена", "Ольга", "Наталья", "Ирина", "Татьяна", "Светлана",
                "Екатерина", "Юлия", "Алексей", "Дмитрий", "Сергей", "Андрей", "Михаил",
                "Иван", "Николай", "Павел")
_LAST_NAMES = ("Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов",
               "Михайлов", "Новиков", "Фёдоров", "Морозов", "Волков")
_FEMALE_COUNT = 10  # the first ten first names are female


@dataclass(frozen=True)
class SentMessage:
    id: int
    peer_id: int
    text: str
    random_id: int
    at: datetime
    keyboard: str | None = None
    intent: str | None = None
    subscribe_id: int | None = None


@dataclass(frozen=True)
class EventAnswer:
    event_id: str
    user_id: int
    peer_id: int
    event_data: str | None
    at: datetime


@dataclass(frozen=True)
class TypingEvent:
    peer_id: int
    type: str
    at: datetime


@dataclass
class _Fault:
    method: str
    code: int
    times: int
    peer_id: int | None


class _VkFail(Exception):
    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message or ERROR_MESSAGES.get(code, "Unknown error occurred")


def default_user_name(user_id: int) -> tuple[str, str]:
    """Deterministic Russian (first, last) name for an id nobody registered."""
    first_index = user_id % len(_FIRST_NAMES)
    last = _LAST_NAMES[(user_id // len(_FIRST_NAMES)) % len(_LAST_NAMES)]
    if first_index < _FEMALE_COUNT:
        last += "а"
    return _FIRST_NAMES[first_index], last


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _int_param(params: dict[str, Any], *names: str) -> int | None:
    for name in names:
        value = params.get(name)
        if value not in (None, ""):
            try:
                return int(value)
            except (TypeError, ValueError):
                raise _VkFail(100, f"One of the parameters specified was missing or "
                                   f"invalid: {name} not integer") from None
    return None


_API_CALL = re.compile(r"API\.([A-Za-z]+\.[A-Za-z]+)\(")
_CALL_SEP = re.compile(r"\s*,\s*")


def parse_execute(code: str) -> list[tuple[str, dict[str, Any]]] | None:
    """The calls of `return [API.m({json}), …];`, or None for code of another shape."""
    code = code.strip()
    if not (code.startswith("return [") and code.endswith("];")):
        return None
    decoder = json.JSONDecoder()
    calls: list[tuple[str, dict[str, Any]]] = []
    pos = len("return [")
    while True:
        m = _API_CALL.match(code, pos)
        if m is None:
            return None
        try:
            params, end = decoder.raw_decode(code, m.end())
        except ValueError:
            return None
        if not isinstance(params, dict) or code[end:end + 1] != ")":
            return None
        calls.append((m.group(1), {k: v if isinstance(v, str) else json.dumps(v)
                                   if isinstance(v, (dict, list)) else v
                                   for k, v in params.items()}))
        sep = _CALL_SEP.match(code, end + 1)
        if sep is None:
            return calls if code[end + 1:].strip() == "];" else None
        pos = sep.end()


class VkEmulator:
    def __init__(self, group_id: int = 1, group_name: str = "Онлайн-школа фортепиано",
                 screen_name: str = "piano_school") -> None:
        self.group = {"id": int(group_id), "name": group_name, "screen_name": screen_name,
                      "is_closed": 0, "type": "group"}
        self._cond = threading.Condition()
        self._handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "messages.send": self._messages_send,
            "messages.setActivity": self._messages_set_activity,
            "messages.sendMessageEventAnswer": self._send_event_answer,
            "users.get": self._users_get,
            "groups.getById": self._groups_get_by_id,
            "messages.getIntentUsers": self._get_intent_users,
        }
        self.reset()

    # ---- test/dev controls --------------------------------------------------------------

    def reset(self) -> None:
        """Forget messages, typing, calls, faults, users and latency."""
        with self._cond:
            self._sent: list[SentMessage] = []
            self._by_random_id: dict[tuple[int, int], SentMessage] = {}
            self._typing: list[TypingEvent] = []
            self._calls: dict[str, int] = {}
            self._faults: list[_Fault] = []
            self._cannot_send: set[int] = set()
            self._users: dict[int, tuple[str, str]] = {}
            self._latency = 0.0
            self._rate_limit = 0.0  # requests a second before error 6 (0: no limit)
            self._arrivals: collections.deque[float] = collections.deque()
            self.rate_limited = 0  # requests refused with error 6
            self._requests = 0  # HTTP requests (an execute is one, whatever it carries)
            self._next_id = 1
            self._answers: list[EventAnswer] = []
            self.rules = SendRules()  # VK's reply window and intents
            self._cond.notify_all()

    def set_user(self, user_id: int, first_name: str, last_name: str) -> None:
        with self._cond:
            self._users[int(user_id)] = (first_name, last_name)

    def fail_next(self, method: str, code: int, times: int = 1,
                  peer_id: int | None = None) -> None:
        """The next `times` calls of `method` (to `peer_id`, if given) fail with `code`."""
        with self._cond:
            self._faults.append(_Fault(method, int(code), int(times), peer_id))

    def set_cannot_send(self, peer_id: int) -> None:
        """messages.send to this peer always fails with 901."""
        with self._cond:
            self._cannot_send.add(int(peer_id))

    def set_latency(self, seconds: float) -> None:
        """Delay every answer (e.g. longer than a client's timeout, to emulate a hung VK)."""
        with self._cond:
            self._latency = float(seconds)

    def set_rate_limit(self, per_second: float) -> None:
        """VK's limit per community: requests beyond `per_second` in any second get error 6
        (an `execute` is one request, however many calls it carries)."""
        with self._cond:
            self._rate_limit = float(per_second)
            self._arrivals.clear()

    # ---- inspection ---------------------------------------------------------------------

    def sent(self, peer_id: int | None = None, after_id: int = 0) -> list[SentMessage]:
        with self._cond:
            return self._sent_locked(peer_id, after_id)

    def typing_events(self, peer_id: int | None = None) -> list[TypingEvent]:
        with self._cond:
            return [t for t in self._typing if peer_id is None or t.peer_id == peer_id]

    def event_answers(self) -> list[EventAnswer]:
        with self._cond:
            return list(self._answers)

    def requests(self) -> int:
        with self._cond:
            return self._requests

    def reset_counters(self) -> None:
        """Zero the call, request and error-6 counters (messages stay)."""
        with self._cond:
            self._calls.clear()
            self._requests = 0
            self.rate_limited = 0

    def calls(self, method: str | None = None) -> int:
        with self._cond:
            if method is None:
                return sum(self._calls.values())
            return self._calls.get(method, 0)

    def wait_for_sent(self, count: int, peer_id: int | None = None,
                      timeout: float = 5.0) -> list[SentMessage]:
        """Block until at least `count` messages were sent (to `peer_id`); raise TimeoutError."""
        with self._cond:
            done = self._cond.wait_for(lambda: len(self._sent_locked(peer_id)) >= count,
                                       timeout=timeout)
            found = self._sent_locked(peer_id)
        if not done:
            raise TimeoutError(f"expected {count} sent message(s) to peer {peer_id}, "
                               f"got {len(found)}: {[m.text[:60] for m in found]}")
        return found

    # ---- the API ------------------------------------------------------------------------

    def handle(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Answer one VK API call with VK's JSON envelope."""
        params = dict(params or {})
        with self._cond:
            self._calls[method] = self._calls.get(method, 0) + 1
            self._requests += 1
            latency = self._latency
            over = self._over_rate_locked()
        if latency > 0:
            time.sleep(latency)
        try:
            if not str(params.get("access_token") or "").strip():
                raise _VkFail(5)
            if over:
                raise _VkFail(6)
            if method == "execute":
                return self._execute(str(params.get("code") or ""))
            handler = self._handlers.get(method)
            if handler is None:
                raise _VkFail(3)
            with self._cond:
                self._take_fault(method, params)
                return {"response": handler(params)}
        except _VkFail as fail:
            return self._error(method, params, fail)

    def _over_rate_locked(self) -> bool:
        if self._rate_limit <= 0:
            return False
        now = time.monotonic()
        while self._arrivals and now - self._arrivals[0] >= 1.0:
            self._arrivals.popleft()
        if len(self._arrivals) >= self._rate_limit:
            self.rate_limited += 1
            return True
        self._arrivals.append(now)
        return False

    def _execute(self, code: str) -> dict[str, Any]:
        """`execute` with code of the form `return [API.m({...}), …];` (what the app writes):
        each call runs as if made alone; a failed one is `false` plus an `execute_errors`
        entry."""
        calls = parse_execute(code)
        if calls is None or len(calls) > 25:
            raise _VkFail(12, "Unable to compile code")
        results: list[Any] = []
        errors: list[dict[str, Any]] = []
        with self._cond:
            for method, params in calls:
                self._calls[method] = self._calls.get(method, 0) + 1
                handler = self._handlers.get(method)
                try:
                    if handler is None:
                        raise _VkFail(3)
                    self._take_fault(method, params)
                    results.append(handler(params))
                except _VkFail as fail:
                    results.append(False)
                    errors.append({"method": method, "error_code": fail.code,
                                   "error_msg": fail.message})
        answer: dict[str, Any] = {"response": results}
        if errors:
            answer["execute_errors"] = errors
        return answer

    def _error(self, method: str, params: dict[str, Any], fail: _VkFail) -> dict[str, Any]:
        request_params = [{"key": "method", "value": method}]
        request_params += [{"key": str(k), "value": str(v)} for k, v in params.items()
                           if k not in ("access_token", "message")]
        error = {"error_code": fail.code, "error_msg": fail.message,
                 "request_params": request_params}
        if fail.code == 14:
            error.update(captcha_sid="100500",
                         captcha_img="https://api.vk.com/captcha.php?sid=100500&s=1")
        return {"error": error}

    def _take_fault(self, method: str, params: dict[str, Any]) -> None:
        peer = _int_param(params, "peer_id", "user_id")
        for fault in self._faults:
            if fault.method == method and (fault.peer_id is None or fault.peer_id == peer):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                raise _VkFail(fault.code)

    def _sent_locked(self, peer_id: int | None, after_id: int = 0) -> list[SentMessage]:
        return [m for m in self._sent
                if (peer_id is None or m.peer_id == peer_id) and m.id > after_id]

    # Handlers below run with self._cond held.

    def _messages_send(self, params: dict[str, Any]) -> int:
        peer_id = _int_param(params, "peer_id", "user_id")
        random_id = _int_param(params, "random_id")
        text = str(params.get("message") or "")
        if peer_id is None or random_id is None or not text.strip():
            raise _VkFail(100, "One of the parameters specified was missing or invalid: "
                               "peer_id, random_id and message are required")
        if peer_id in self._cannot_send:
            raise _VkFail(901)
        if len(text) > MAX_VK_MESSAGE_LEN:
            raise _VkFail(914)
        refusal = self.rules.refusal(peer_id, str(params.get("intent") or "default"),
                                     _int_param(params, "subscribe_id"))
        if refusal is not None:
            raise _VkFail(refusal)
        if random_id and (peer_id, random_id) in self._by_random_id:
            return self._by_random_id[(peer_id, random_id)].id  # VK drops the repeat
        message = SentMessage(self._next_id, peer_id, text, random_id, _now(),
                              keyboard=params.get("keyboard") or None,
                              intent=params.get("intent") or None,
                              subscribe_id=_int_param(params, "subscribe_id"))
        self._next_id += 1
        self._sent.append(message)
        if random_id:
            self._by_random_id[(peer_id, random_id)] = message
        self._cond.notify_all()
        return message.id

    def _send_event_answer(self, params: dict[str, Any]) -> int:
        user_id = _int_param(params, "user_id")
        peer_id = _int_param(params, "peer_id")
        event_id = str(params.get("event_id") or "")
        if user_id is None or peer_id is None or not event_id:
            raise _VkFail(100, "One of the parameters specified was missing or invalid: "
                               "event_id, user_id and peer_id are required")
        self._answers.append(EventAnswer(event_id, user_id, peer_id,
                                         params.get("event_data") or None, _now()))
        return 1

    def _messages_set_activity(self, params: dict[str, Any]) -> int:
        peer_id = _int_param(params, "peer_id", "user_id")
        kind = str(params.get("type") or "")
        if peer_id is None or kind not in ("typing", "audiomessage"):
            raise _VkFail(100, "One of the parameters specified was missing or invalid: "
                               "peer_id and type are required")
        self._typing.append(TypingEvent(peer_id, kind, _now()))
        return 1

    def _users_get(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        raw = str(params.get("user_ids") or params.get("user_id") or "")
        users = []
        for item in (part.strip() for part in raw.split(",")):
            if not item:
                continue
            if not item.lstrip("-").isdigit() or int(item) <= 0:
                raise _VkFail(113)
            user_id = int(item)
            first, last = self._users.get(user_id) or default_user_name(user_id)
            users.append({"id": user_id, "first_name": first, "last_name": last,
                          "can_access_closed": True, "is_closed": False})
        return users

    def _get_intent_users(self, params: dict[str, Any]) -> dict[str, Any]:
        intent = str(params.get("intent") or "")
        if intent not in ("confirmed_notification", "non_promo_newsletter", "promo_newsletter"):
            raise _VkFail(100, "One of the parameters specified was missing or invalid: intent")
        users = self.rules.subscribers(intent, _int_param(params, "subscribe_id"))
        offset = _int_param(params, "offset") or 0
        count = _int_param(params, "count") or 20
        return {"count": len(users), "items": users[offset:offset + min(count, 200)]}

    def _groups_get_by_id(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"groups": [dict(self.group)], "profiles": []}
