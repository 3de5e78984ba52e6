"""The client card and its change history."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Optional

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Timestamps, utcnow
from app.models.states import FunnelStage, VkPermission
from app.platform.db import Base

if TYPE_CHECKING:
    from app.models.dialog import Dialog

FUNNEL_STAGES = tuple(s.value for s in FunnelStage)


class Client(Timestamps, Base):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vk_id: Mapped[int] = mapped_column(BigInteger, unique=True, index=True)
    first_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    last_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    names_fetched_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    email: Mapped[Optional[str]] = mapped_column(String(254), index=True)
    phone: Mapped[Optional[str]] = mapped_column(String(32), index=True)
    # a contact typed in chat or carried by an order is a claim; staff prove it (by hand or by
    # attaching a waiting order). Only proven contacts attach orders automatically.
    # *_source: "turn:12", "staff", "order:A-1", "staff:order:A-1"
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    email_source: Mapped[Optional[str]] = mapped_column(String(120))
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    phone_source: Mapped[Optional[str]] = mapped_column(String(120))
    city: Mapped[Optional[str]] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Moscow",
                                          server_default="Europe/Moscow")
    level: Mapped[Optional[str]] = mapped_column(String(100))
    goal: Mapped[Optional[str]] = mapped_column(Text)
    instrument: Mapped[Optional[str]] = mapped_column(String(100))
    age_group: Mapped[Optional[str]] = mapped_column(String(50))
    budget: Mapped[Optional[str]] = mapped_column(String(100))
    funnel_stage: Mapped[str] = mapped_column(String(16), default="cold", server_default="cold")
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default="[]")
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")  # staff's own
    # the client's objections as the model heard them: the client's words, shown to the model as
    # client data (fenced), never mixed into the staff's notes
    objections: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default="[]")
    can_write: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    bot_paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # what the client's VK app can show (from `client_info`): inline_keyboard, button_actions
    vk_capabilities: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict,
                                                            server_default="{}")

    # consent from VK: message_allow / message_deny (a denied client gets nothing proactive)
    vk_permission: Mapped[str] = mapped_column(String(16), default=VkPermission.UNKNOWN,
                                               server_default="unknown")
    vk_permission_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    # VK answered 901/902 to a proactive send: not written to first until the client writes
    unreachable_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    unreachable_code: Mapped[Optional[int]] = mapped_column(Integer)
    # the client asked not to be written to («не пишите»): no follow-ups after a silence
    asked_not_to_write_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))

    dialog: Mapped[Optional["Dialog"]] = relationship(back_populates="client", uselist=False)

    def set_vk_permission(self, allowed: bool, now: datetime) -> None:
        """message_allow / message_deny. Allowing again also ends an earlier "unreachable"."""
        self.vk_permission = VkPermission.ALLOWED if allowed else VkPermission.DENIED
        self.vk_permission_at, self.can_write = now, allowed
        if allowed:
            self.unreachable_at, self.unreachable_code = None, None

    def mark_unreachable(self, code: Optional[int], now: datetime) -> None:
        """VK refused a proactive send (901/902): nothing proactive until the client writes or
        allows messages again."""
        self.unreachable_at, self.unreachable_code = now, code

    @property
    def may_write_first(self) -> bool:
        """VK lets the community write to this client first (consent, not the window)."""
        return (self.can_write and self.vk_permission != VkPermission.DENIED
                and self.unreachable_at is None)

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or f"id{self.vk_id}"


class ClientChange(Base):
    """Audit of the card: who or what changed a field (turn, import, staff, vk)."""

    __tablename__ = "client_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(50))
    old_value: Mapped[Optional[str]] = mapped_column(Text)
    new_value: Mapped[Optional[str]] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(64))  # "turn:12", "import", "staff", "vk"
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class VkSubscription(Base):
    """A client's subscription to an intent (`intent_subscribe` button), as VK last reported it
    (`messages.getIntentUsers`). `subscribe_id` -1 stands for "none" (intents without one)."""

    __tablename__ = "vk_subscriptions"
    __table_args__ = (UniqueConstraint("client_id", "intent", "subscribe_id",
                                       name="uq_vk_subscriptions_client_intent"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    intent: Mapped[str] = mapped_column(String(40))
    subscribe_id: Mapped[int] = mapped_column(Integer, default=-1, server_default="-1")
    subscribed: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
