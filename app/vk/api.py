"""VK API client: send messages, typing, user names; typed errors; bounded retries.

Built on `vk_api.VkApiGroup` without its lock: vk_api holds one lock during every HTTP request
(calls of a process fully serialised, each process a fixed share of the rate). Here every call,
retries included, takes a slot of a `RateBudget` first (shared by all processes and replicas
when it lives in PostgreSQL) and then runs its request in parallel with the others.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import random
import re
import threading
import time
from datetime import datetime, timezone
from typing import Any

import jconfig.memory
import requests
import vk_api
from vk_api.exceptions import ApiError, ApiHttpError, Captcha

from app.vk.budget import LocalBudget, RateBudget
from app.vk.channel import OutboundMessage
from app.vk.errors import (
    RATE_LIMIT_CODES,
    VkError,
    VkNetworkError,
    VkRateLimited,
    error_from_code,
)

logger = logging.getLogger(__name__)

MAX_MESSAGE_LEN = 4000
_VK_PREFIXES = ("https://api.vk.ru/method", "https://api.vk.com/method")
# End of a sentence (punctuation, optional closing quotes/brackets) before whitespace, or a newline.
_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u00bb\u201d)\]]*(?=\s)|\n")
_USERS_GET_CHUNK = 1000


def derive_random_id(key: str) -> int:
    """Deterministic positive 31-bit random_id for a key like "turn:123"; never 0."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    value = int.from_bytes(digest[:4], "big") & 0x7FFFFFFF
    return value or 1


def derive_part_random_id(random_id: int, index: int) -> int:
    """random_id of part `index` of a split message; part 0 keeps `random_id`."""
    if index == 0:
        return random_id
    return derive_random_id(f"{random_id}:part:{index}")


def split_text(text: str, limit: int = MAX_MESSAGE_LEN) -> list[str]:
    """Split on sentence boundaries, then whitespace, then hard; every part <= limit."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _find_cut(rest, limit)
        part, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if part:
            parts.append(part)
    if rest:
        parts.append(rest)
    return parts


def _find_cut(text: str, limit: int) -> int:
    window = text[: limit + 1]  # a boundary right at `limit` still fits
    sentence_cuts = [m.end() for m in _SENTENCE_END.finditer(window) if m.end() <= limit]
    if sentence_cuts and sentence_cuts[-1] >= limit // 2:
        return sentence_cuts[-1]
    space = max(window.rfind(" "), window.rfind("\n"), window.rfind("\t"))
    if space > 0:
        return space
    if sentence_cuts:
        return sentence_cuts[-1]
    return limit


def _map_exception(exc: Exception, method: str) -> VkError:
    if isinstance(exc, Captcha):  # error 14; not an ApiError subclass in vk_api
        return error_from_code(14, "Captcha needed", method)
    if isinstance(exc, ApiError):
        return error_from_code(int(exc.code), str(exc.error.get("error_msg", "")), method)
    if isinstance(exc, ApiHttpError):
        return VkNetworkError(f"HTTP {exc.response.status_code}", method=method)
    if isinstance(exc, requests.RequestException):  # connection, timeout, non-JSON body
        return VkNetworkError(f"{type(exc).__name__}: {exc}", method=method)
    return VkNetworkError(f"unexpected VK answer: {type(exc).__name__}: {exc}", method=method)


def send_params(message: OutboundMessage) -> list[dict[str, Any]]:
    """The `messages.send` parameters of each part of a message (split at <= 4000 chars; the
    keyboard rides on the last part; part i has its own deterministic random_id)."""
    parts = split_text(message.text)
    if not parts:
        raise ValueError("cannot send an empty message")
    calls: list[dict[str, Any]] = []
    for index, part in enumerate(parts):
        params: dict[str, Any] = {
            "peer_id": int(message.peer_id), "message": part,
            "random_id": derive_part_random_id(int(message.random_id), index)}
        if message.keyboard and index == len(parts) - 1:
            params["keyboard"] = message.keyboard
        if message.intent:
            params["intent"] = message.intent
        if message.subscribe_id is not None:
            params["subscribe_id"] = int(message.subscribe_id)
        calls.append(params)
    return calls


class _RewritingSession(requests.Session):
    """Sends vk_api's hard-coded api.vk.ru URLs to the configured base, with a timeout."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.headers["User-Agent"] = "neuro-employee/1.0 (+vk_api)"
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=64)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, method: str, url: str | bytes, *args: Any,
                **kwargs: Any) -> requests.Response:
        for prefix in _VK_PREFIXES:
            if isinstance(url, str) and url.startswith(prefix + "/"):
                url = self.base_url + url[len(prefix):]
                break
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout_s
        return super().request(method, url, *args, **kwargs)


class _GroupApi(vk_api.VkApiGroup):  # type: ignore[misc]  # vk_api ships no type hints
    """VkApiGroup without the unbounded recursive retry on error 6."""

    def too_many_rps_handler(self, error: ApiError) -> None:
        return None  # vk_api then raises the ApiError; VkClient retries, bounded


class VkClient:
    def __init__(self, token: str, group_id: int,
                 api_base_url: str = "https://api.vk.com/method",
                 api_version: str = "5.199", timeout_s: float = 10.0,
                 max_retries: int = 3, *, backoff_base_s: float = 0.5,
                 backoff_max_s: float = 8.0, max_rps: float = 20.0,
                 budget: RateBudget | None = None) -> None:
        self.group_id = int(group_id)
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._session = _RewritingSession(api_base_url, timeout_s)
        self._api = _GroupApi(token=token, api_version=api_version, session=self._session,
                              config=jconfig.memory.MemoryConfig)
        # Without handlers, errors 6 and 14 raise a plain ApiError: no recursive retry on 6,
        # and no KeyError when a captcha error lacks captcha_sid/captcha_img.
        self._api.error_handlers.pop(vk_api.exceptions.TOO_MANY_RPS_CODE, None)
        self._api.error_handlers.pop(vk_api.exceptions.CAPTCHA_ERROR_CODE, None)
        # VK allows 20 calls/s per community token, shared by every process that uses it: the
        # budget paces the calls; vk_api's own spacing and its lock (held during HTTP) are off
        self._api.RPS_DELAY = 0.0
        self._api.lock = contextlib.nullcontext()
        self.budget: RateBudget = budget or LocalBudget(max_rps)
        self._stats_lock = threading.Lock()
        self._calls = 0
        self._errors: dict[str, int] = {}
        self._last_error: dict[str, Any] | None = None

    # ---- public API -------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> list[int]:
        """Send a message (split into parts of <= 4000 chars; the keyboard rides on the last
        part); returns VK message ids.

        Repeating the same call is safe: every part has a deterministic random_id and VK
        drops a repeat, returning the first message's id.
        """
        return [int(self._call("messages.send", params)) for params in send_params(message)]

    def send_message(self, peer_id: int, text: str, random_id: int) -> list[int]:
        """Plain text to a peer (see `send`)."""
        return self.send(OutboundMessage(int(peer_id), text, int(random_id)))

    def set_typing(self, peer_id: int) -> None:
        """Show "typing…" to the peer. Cosmetic: failures are logged, never raised."""
        params = {"peer_id": int(peer_id), "type": "typing", "group_id": self.group_id}
        try:
            self._call("messages.setActivity", params, retry=False)
        except VkError as exc:
            logger.info("vk typing failed", extra={"peer_id": peer_id, "code": exc.code,
                                                   "error": str(exc)})

    def answer_event(self, event_id: str, user_id: int, peer_id: int,
                     event_data: dict[str, Any] | None = None) -> None:
        """Answer a callback button press (one attempt: the event expires in about a minute)."""
        params: dict[str, Any] = {"event_id": event_id, "user_id": int(user_id),
                                  "peer_id": int(peer_id)}
        if event_data:
            params["event_data"] = json.dumps(event_data, ensure_ascii=False)
        self._call("messages.sendMessageEventAnswer", params, retry=False)

    def get_user_names(self, user_ids: list[int]) -> dict[int, tuple[str, str]]:
        """Map user id -> (first_name, last_name) via users.get. Raises VkError."""
        ids = list(dict.fromkeys(int(u) for u in user_ids))
        names: dict[int, tuple[str, str]] = {}
        for start in range(0, len(ids), _USERS_GET_CHUNK):
            chunk = ids[start:start + _USERS_GET_CHUNK]
            users = self._call("users.get", {"user_ids": ",".join(map(str, chunk))})
            for user in users or []:
                names[int(user["id"])] = (user.get("first_name", ""), user.get("last_name", ""))
        return names

    def get_user_name(self, user_id: int) -> tuple[str, str] | None:
        return self.get_user_names([user_id]).get(int(user_id))

    def intent_users(self, intent: str, subscribe_id: int | None = None,
                     limit: int = 10_000) -> list[int]:
        """Users subscribed to `intent` (and `subscribe_id`): `messages.getIntentUsers`, paged
        200 at a time, at most `limit`. Raises VkError."""
        found: list[int] = []
        while len(found) < limit:
            params: dict[str, Any] = {"intent": intent, "offset": len(found), "count": 200}
            if subscribe_id is not None:
                params["subscribe_id"] = int(subscribe_id)
            page = self._call("messages.getIntentUsers", params) or {}
            items = [int(x) for x in page.get("items") or []]
            found += items
            if not items or len(found) >= int(page.get("count") or 0):
                break
        return found[:limit]

    def health(self) -> dict[str, Any]:
        """Counters for /healthz (error keys are strings: VK code or "network")."""
        with self._stats_lock:
            return {"calls": self._calls, "errors": dict(self._errors),
                    "last_error": dict(self._last_error) if self._last_error else None}

    # ---- internals ----------------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any], *, slot_taken: bool = False,
             raw: bool = False) -> Any:
        """One API call with the bounded retries on error 6/9 (each retry takes a new slot of
        the budget). `slot_taken`: the caller already waited for the first attempt's slot."""
        return self._call(method, params, slot_taken=slot_taken, raw=raw)

    def _call(self, method: str, params: dict[str, Any], retry: bool = True, *,
              slot_taken: bool = False, raw: bool = False) -> Any:
        attempts = 1 + (self.max_retries if retry else 0)
        for attempt in range(attempts):
            try:
                return self._call_once(method, params, paced=slot_taken and attempt == 0,
                                       raw=raw)
            except VkRateLimited as exc:
                if attempt + 1 >= attempts:
                    exc.retry_after = self._backoff(attempt + 1)
                    raise
                delay = self._backoff(attempt)
                logger.warning("vk rate limited, retrying", extra={
                    "method": method, "code": exc.code, "attempt": attempt + 1,
                    "delay_s": round(delay, 3)})
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with equal jitter."""
        delay: float = min(self.backoff_max_s, self.backoff_base_s * (2 ** attempt))
        return delay / 2 + random.uniform(0, delay / 2)

    def _call_once(self, method: str, params: dict[str, Any], paced: bool = False,
                   raw: bool = False) -> Any:
        if not paced:
            self.budget.take()
        with self._stats_lock:
            self._calls += 1
        try:
            return self._api.method(method, params, raw=raw)
        except (Captcha, ApiError, ApiHttpError, requests.RequestException,
                ValueError, KeyError, TypeError) as exc:
            err = _map_exception(exc, method)
            self.record_error(err)
            raise err from exc

    def record_error(self, err: VkError) -> None:
        key = str(err.code) if err.code is not None else "network"
        with self._stats_lock:
            self._errors[key] = self._errors.get(key, 0) + 1
            self._last_error = {"code": err.code, "kind": type(err).__name__,
                                "method": err.method, "message": str(err)[:300],
                                "at": datetime.now(timezone.utc).isoformat()}
        if err.code not in RATE_LIMIT_CODES:
            logger.warning("vk call failed", extra={"method": err.method, "code": err.code,
                                                    "error": str(err)[:300]})
