"""Processed VK callback events (dedupe by event_id) and small app-wide state."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.models.base import utcnow
from app.platform.db import Base


class ProcessedEvent(Base):
    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    type: Mapped[str] = mapped_column(String(50))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                  index=True)


class AppState(Base):
    """Key/value switches shared by all processes (e.g. bot paused, KB reload generation)."""

    __tablename__ = "app_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Optional[str]] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 onupdate=utcnow)

    @classmethod
    def flag(cls, s: Session, key: str) -> bool:
        """A switch stored as "1" (e.g. `bot_paused`)."""
        row = s.get(cls, key)
        return row is not None and row.value == "1"
