"""Payment links made for clients (one provider payment each) and the provider's notifications
(hints: each is checked by fetching the payment from the provider)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import utcnow
from app.models.states import AccessState, PaymentStatus
from app.platform.db import Base


class PaymentLink(Base):
    __tablename__ = "payment_links"
    __table_args__ = (
        # one open payment per client, product and amount: a repeated request reuses it
        Index("uq_payment_links_open", "client_id", "product_id", "amount_rub", unique=True,
              postgresql_where=text("status IN ('creating', 'pending')")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"),
                                           index=True)
    product_id: Mapped[str] = mapped_column(String(100))
    amount_rub: Mapped[int] = mapped_column(Integer)  # decided by code: KB price less a grant
    list_price_rub: Mapped[int] = mapped_column(Integer)
    percent: Mapped[Optional[int]] = mapped_column(Integer)  # the granted discount applied
    issued_offer_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("issued_offers.id", ondelete="SET NULL", name="fk_payment_links_offer"))
    turn_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("turns.id", ondelete="SET NULL", name="fk_payment_links_turn"))
    provider: Mapped[str] = mapped_column(String(20), default="yookassa",
                                          server_default="yookassa")
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    provider_payment_id: Mapped[Optional[str]] = mapped_column(String(100), unique=True)
    confirmation_url: Mapped[Optional[str]] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=PaymentStatus.CREATING,
                                        server_default="creating", index=True)
    last_error: Mapped[str] = mapped_column(Text, default="", server_default="")
    paid_amount_rub: Mapped[Optional[int]] = mapped_column(Integer)
    paid_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    purchase_order_id: Mapped[Optional[str]] = mapped_column(String(100))
    thanked: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    access: Mapped[str] = mapped_column(String(16), default=AccessState.NONE, server_default="")
    staff_alerted: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    access_opened_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 onupdate=utcnow)


class PaymentEvent(Base):
    """A notification as received: never proof, only a reason to fetch the payment."""

    __tablename__ = "payment_events"
    __table_args__ = (UniqueConstraint("payment_id", "event", name="uq_payment_events_id_event"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20), default="yookassa",
                                          server_default="yookassa")
    payment_id: Mapped[str] = mapped_column(String(100))
    event: Mapped[str] = mapped_column(String(40))
    received: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    processed_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True), index=True)
    outcome: Mapped[str] = mapped_column(String(200), default="", server_default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
