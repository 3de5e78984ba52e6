"""Panel access: one shared password, a per-login session id (server-side), CSRF tokens, and a
login rate limit shared by all workers through PostgreSQL."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Optional

from flask import current_app, request, session
from sqlalchemy import case, delete
from sqlalchemy.dialects.postgresql import insert

from app.admin.web.deps import panel
from app.models import AdminSession, LoginFailure

if TYPE_CHECKING:
    from app.platform.clock import Clock
    from app.platform.db import Database

SESSION_KEY = "admin_auth"
CSRF_KEY = "csrf_token"
MAX_FAILURES = 5
WINDOW_S = 300.0
SESSION_LIFETIME = timedelta(days=31)


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
    """A fresh session (and CSRF token) with its own id, stored server-side: no fixation, and
    logout (or a new ADMIN_PASSWORD) ends it even for a copied cookie."""
    deps = panel()
    now = deps.clock.now()
    sid = secrets.token_urlsafe(32)
    with deps.db.session() as s:
        s.execute(delete(AdminSession).where(AdminSession.expires_at < now))
        s.add(AdminSession(sid=sid, password_mark=_session_mark(password), created_at=now,
                           expires_at=now + SESSION_LIFETIME))
    session.clear()
    session.permanent = True
    session[SESSION_KEY] = sid
    session[CSRF_KEY] = secrets.token_urlsafe(32)


def log_out() -> None:
    sid = session.get(SESSION_KEY)
    if isinstance(sid, str) and sid:
        with panel().db.session() as s:
            s.execute(delete(AdminSession).where(AdminSession.sid == sid))
    session.clear()


def is_logged_in(password: Optional[str]) -> bool:
    sid = session.get(SESSION_KEY)
    if not password or not isinstance(sid, str) or not sid or len(sid) > 64:
        return False
    deps = panel()
    with deps.db.session() as s:
        row = s.get(AdminSession, sid)
        if row is None or row.expires_at <= deps.clock.now():
            return False
        return hmac.compare_digest(row.password_mark, _session_mark(password))


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
    """Failed logins per address, kept in PostgreSQL so every worker shares them: `limit`
    failures within a window of `window_s` → blocked until the window ends. Rows of ended
    windows are deleted on each failure, so the table stays bounded."""

    def __init__(self, db: Database, clock: Clock, limit: int = MAX_FAILURES,
                 window_s: float = WINDOW_S) -> None:
        self.db, self.clock = db, clock
        self.limit, self.window = limit, timedelta(seconds=window_s)

    def blocked(self, ip: str) -> bool:
        now = self.clock.now()
        with self.db.session() as s:
            row = s.get(LoginFailure, ip[:64])
            return (row is not None and row.window_start > now - self.window
                    and row.failures >= self.limit)

    def fail(self, ip: str) -> None:
        self._count(ip)

    def attempt(self, ip: str) -> bool:
        """Count this login attempt first, atomically (one upsert on the address' row, which
        serialises parallel tries), and say whether it may check the password: at most `limit`
        per window, however many arrive at once. A success calls `reset`."""
        return self._count(ip) <= self.limit

    def _count(self, ip: str) -> int:
        now = self.clock.now()
        fresh = LoginFailure.window_start > now - self.window
        row = insert(LoginFailure).values(ip=ip[:64], failures=1, window_start=now)
        upsert = row.on_conflict_do_update(index_elements=[LoginFailure.ip], set_={
            "failures": case((fresh, LoginFailure.failures + 1), else_=1),
            "window_start": case((fresh, LoginFailure.window_start), else_=now)}
        ).returning(LoginFailure.failures)
        with self.db.session() as s:
            count = int(s.execute(upsert).scalar_one())
            s.execute(delete(LoginFailure).where(LoginFailure.window_start <= now - self.window))
        return count

    def reset(self, ip: str) -> None:
        with self.db.session() as s:
            s.execute(delete(LoginFailure).where(LoginFailure.ip == ip[:64]))


def limiter() -> LoginLimiter:
    deps = panel()
    return LoginLimiter(deps.db, deps.clock)
