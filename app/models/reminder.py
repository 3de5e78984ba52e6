"""Agreed follow-ups and other proactive messages (access-extension offers)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Optional

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Timestamps
from app.models.states import ReminderStatus
from app.platform.db import Base

if TYPE_CHECKING:
    from app.models.client import Client



class Reminder(Timestamps, Base):
    __tablename__ = "reminders"
    __table_args__ = (UniqueConstraint("silence_message_id",
                                       name="uq_reminders_silence_message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    # followup (agreed with the client) | access_extension | reengage (after a silence)
    kind: Mapped[str] = mapped_column(String(20), default="followup")
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    agreed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default=ReminderStatus.PENDING, index=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    source_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    context: Mapped[str] = mapped_column(Text, default="", server_default="")
    product_id: Mapped[Optional[str]] = mapped_column(String(100))
    source_turn_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("turns.id", ondelete="SET NULL", name="fk_reminders_source_turn"), index=True)
    fired_turn_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("turns.id", ondelete="SET NULL", name="fk_reminders_fired_turn"))
    claimed_until: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    status_reason: Mapped[Optional[str]] = mapped_column(Text)
    dedupe_key: Mapped[Optional[str]] = mapped_column(String(120), unique=True)
    sent_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    refused_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    vk_error_code: Mapped[Optional[int]] = mapped_column(Integer)
    # reengage: the client's last message before the silence; one follow-up per silence
    silence_message_id: Mapped[Optional[int]] = mapped_column(BigInteger)

    client: Mapped["Client"] = relationship()

    def claim(self, now: datetime, lease_s: float) -> None:
        self.status = ReminderStatus.SENDING
        self.claimed_until = now + timedelta(seconds=lease_s)

    def hold(self, until: datetime) -> None:
        """Keep the claim a while after a transient failure; then it is taken again."""
        self.claimed_until = until

    def skip(self, reason: str) -> None:
        self.status, self.status_reason, self.claimed_until = ReminderStatus.SKIPPED, reason, None

    def fail(self, reason: str) -> None:
        self.status, self.status_reason, self.claimed_until = ReminderStatus.FAILED, reason, None

    def replan(self, due_at: datetime, reason: str) -> None:
        self.status, self.due_at = ReminderStatus.PENDING, due_at
        self.status_reason, self.claimed_until = reason, None

    def mark_sent(self, now: datetime) -> None:
        self.status, self.sent_at, self.claimed_until = ReminderStatus.SENT, now, None

    def refuse(self, code: Optional[int], reason: str, now: datetime) -> None:
        """VK refused the send (reply window, intent): staff are told, the next turn knows."""
        self.status, self.status_reason, self.claimed_until = ReminderStatus.REFUSED, reason, None
        self.vk_error_code, self.refused_at = code, now

    def cancel(self, reason: str) -> None:
        self.status, self.status_reason, self.claimed_until = ReminderStatus.CANCELLED, reason, None
