"""Dialogs (one per client), their messages and turns (the unit of one reply)."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Optional

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from app.models.base import Timestamps, utcnow
from app.models.states import TurnFlag, TurnKind, TurnStatus
from app.platform.db import Base

if TYPE_CHECKING:
    from app.models.client import Client


class Dialog(Timestamps, Base):
    __tablename__ = "dialogs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"),
                                           unique=True)
    peer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    reply_due_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True), index=True)
    claimed_until: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    claimed_turn_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("turns.id", ondelete="SET NULL", name="fk_dialogs_claimed_turn", use_alter=True))
    answered_upto_id: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    last_inbound_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    last_outbound_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    human_until: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    needs_human: Mapped[bool] = mapped_column(default=False, server_default="false")
    escalated_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    summary: Mapped[str] = mapped_column(Text, default="", server_default="")
    summary_upto_id: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    client: Mapped["Client"] = relationship(back_populates="dialog")
    turns: Mapped[list["Turn"]] = relationship(
        back_populates="dialog", foreign_keys="Turn.dialog_id", passive_deletes=True,
        order_by="Turn.id")


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("turn_id", "part", name="uq_messages_turn_part"),
        Index("uq_messages_inbound_vk_id", "vk_message_id", unique=True,
              postgresql_where=text("direction = 'in' AND vk_message_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dialog_id: Mapped[int] = mapped_column(ForeignKey("dialogs.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    source: Mapped[str] = mapped_column(String(16), default="client")  # client|bot|staff
    text: Mapped[str] = mapped_column(Text, default="")
    vk_message_id: Mapped[Optional[int]] = mapped_column(BigInteger, index=True)
    conversation_message_id: Mapped[Optional[int]] = mapped_column(BigInteger)
    random_id: Mapped[Optional[int]] = mapped_column(BigInteger, index=True)
    attachments: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default="[]")
    turn_id: Mapped[Optional[int]] = mapped_column(ForeignKey("turns.id", ondelete="SET NULL"))
    part: Mapped[Optional[int]] = mapped_column(Integer)
    admin_author_id: Mapped[Optional[int]] = mapped_column(BigInteger)
    # the text is a transcript of the attached voice note (by VK or by the model)
    transcribed: Mapped[bool] = mapped_column(default=False, server_default="false")
    keyboard: Mapped[Optional[str]] = mapped_column(Text)  # inline keyboard JSON sent with it
    # a reply written but held back (pause, handoff): kept for staff, never shown as sent
    held_back: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 index=True)

    turn: Mapped[Optional["Turn"]] = relationship(foreign_keys=[turn_id])

    @classmethod
    def client_wrote_since(cls, s: Session, dialog_id: int, after_id: int) -> bool:
        """Has the client written to the dialog after message `after_id`?"""
        return s.execute(select(cls.id).where(
            cls.dialog_id == dialog_id, cls.direction == "in",
            cls.id > after_id).limit(1)).first() is not None


class Turn(Base):
    __tablename__ = "turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dialog_id: Mapped[int] = mapped_column(ForeignKey("dialogs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default=TurnKind.REPLY)  # a TurnKind
    status: Mapped[str] = mapped_column(String(16), default=TurnStatus.RUNNING, index=True)
    upto_message_id: Mapped[int] = mapped_column(BigInteger, default=0)
    reminder_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("reminders.id", ondelete="SET NULL", name="fk_turns_reminder", use_alter=True))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    analysis: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    decisions: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    reply_text: Mapped[Optional[str]] = mapped_column(Text)
    flags: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    usage: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    timings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    brain: Mapped[Optional[str]] = mapped_column(String(100))
    prompt_version: Mapped[Optional[str]] = mapped_column(String(40))
    error: Mapped[Optional[str]] = mapped_column(Text)

    dialog: Mapped[Dialog] = relationship(back_populates="turns", foreign_keys=[dialog_id])

    def add_flag(self, flag: str) -> None:
        if flag not in (self.flags or []):
            self.flags = list(self.flags or []) + [flag]

    def finish(self, status: str, now: datetime) -> None:
        """End the turn with a final `TurnStatus`."""
        self.status, self.finished_at = TurnStatus(status), now

    def give_up(self, now: datetime, why: str) -> None:
        """Too many failed attempts: stop retrying (the caller calls a person)."""
        self.finish(TurnStatus.FAILED, now)
        self.error = (self.error or "") + f" | {why}"
        self.add_flag(TurnFlag.GAVE_UP)

    def skip(self, now: datetime, why: str) -> None:
        """A proactive turn whose message no longer makes sense."""
        self.finish(TurnStatus.SKIPPED, now)
        self.error = why

    def note_error(self, error: str) -> None:
        """A transient failure: the turn stays running and is tried again later."""
        self.error = error[:2000]
