"""Panel sessions (one row per login) and the shared login limiter's counters."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import utcnow
from app.platform.db import Base


class AdminSession(Base):
    """A staff login. The cookie carries `sid`; logout deletes the row, so a copied cookie dies.
    `password_mark` ties the row to the password it was opened with (a new password ends it)."""

    __tablename__ = "admin_sessions"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_mark: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class LoginFailure(Base):
    """Failed panel logins per address within the current window (shared by all workers)."""

    __tablename__ = "login_failures"

    ip: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
