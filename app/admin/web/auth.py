"""Panel access: one shared password, a signed session cookie, CSRF tokens, login rate limit."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from typing import Optional

from flask import current_app, request, session

SESSION_KEY = "admin_auth"
CSRF_KEY = "csrf_token"
MAX_FAILURES = 5
WINDOW_S = 300.0


def _sha256(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


def password_ok(given: str, expected: Optional[str]) -> bool:
    """Constant-time comparison of fixed-length hashes (no length leak)."""
    if not expected:
        return False
    return hmac.compare_digest(_sha256(given or ""), _sha256(expected))


def _session_mark(password: str) -> str:
    """What the session carries: changes with ADMIN_PASSWORD, so a new password logs all out."""
    key = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    return hmac.new(key, b"admin:" + password.encode("utf-8"), hashlib.sha256).hexdigest()


def log_in(password: str) -> None:
    session.clear()  # a fresh session (and CSRF token) after login: no fixation
    session[SESSION_KEY] = _session_mark(password)
    session[CSRF_KEY] = secrets.token_urlsafe(32)


def log_out() -> None:
    session.clear()


def is_logged_in(password: Optional[str]) -> bool:
    mark = session.get(SESSION_KEY)
    if not password or not isinstance(mark, str):
        return False
    return hmac.compare_digest(mark, _session_mark(password))


def csrf_token() -> str:
    token = session.get(CSRF_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_KEY] = token
    return token


def csrf_ok() -> bool:
    expected = session.get(CSRF_KEY)
    given = request.form.get(CSRF_KEY, "")
    if not isinstance(expected, str) or not expected or not given:
        return False
    return hmac.compare_digest(_sha256(given), _sha256(expected))


def client_ip() -> str:
    return request.remote_addr or "?"


class LoginLimiter:
    """In-process memory of failed logins per IP: `limit` failures within `window_s` → blocked."""

    def __init__(self, limit: int = MAX_FAILURES, window_s: float = WINDOW_S) -> None:
        self.limit = limit
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, ip: str, now: float) -> deque[float]:
        times = self._failures.setdefault(ip, deque())
        while times and now - times[0] > self.window_s:
            times.popleft()
        return times

    def blocked(self, ip: str) -> bool:
        with self._lock:
            return len(self._recent(ip, time.monotonic())) >= self.limit

    def fail(self, ip: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._recent(ip, now).append(now)
            if len(self._failures) > 10_000:  # bounded memory under a spray of addresses
                for key in [k for k, v in self._failures.items() if not v]:
                    del self._failures[key]

    def reset(self, ip: str) -> None:
        with self._lock:
            self._failures.pop(ip, None)


def limiter() -> LoginLimiter:
    """One limiter per app (tests build many apps)."""
    return current_app.extensions.setdefault("admin_login_limiter", LoginLimiter())
