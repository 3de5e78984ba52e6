"""Agreed follow-ups and other proactive messages (access-extension offers)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.models.base import Timestamps

REMINDER_STATUSES = ("pending", "sending", "sent", "cancelled", "skipped", "failed")


class Reminder(Timestamps, Base):
    __tablename__ = "reminders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="followup")  # followup|access_extension
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    agreed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    source_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    context: Mapped[str] = mapped_column(Text, default="", server_default="")
    product_id: Mapped[Optional[str]] = mapped_column(String(100))
    source_turn_id: Mapped[Optional[int]] = mapped_column(Integer, index=True)
    fired_turn_id: Mapped[Optional[int]] = mapped_column(Integer)
    claimed_until: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    status_reason: Mapped[Optional[str]] = mapped_column(Text)
    dedupe_key: Mapped[Optional[str]] = mapped_column(String(120), unique=True)
    sent_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
