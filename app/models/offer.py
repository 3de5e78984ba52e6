"""Offers granted by the sales policy, and the audit of every decision."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import utcnow
from app.models.states import OfferState
from app.platform.db import Base


class IssuedOffer(Base):
    __tablename__ = "issued_offers"
    __table_args__ = (UniqueConstraint("client_id", "offer_id", name="uq_issued_offers_client_offer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    offer_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # discount|bonus
    code: Mapped[Optional[str]] = mapped_column(String(40), unique=True)
    percent: Mapped[Optional[int]] = mapped_column(Integer)
    product_id: Mapped[Optional[str]] = mapped_column(String(100))
    expires_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    turn_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("turns.id", ondelete="SET NULL", name="fk_issued_offers_turn"))
    redeemed: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def state(self, now: datetime) -> OfferState:
        if self.redeemed:
            return OfferState.REDEEMED
        if self.expires_at is not None and self.expires_at <= now:
            return OfferState.EXPIRED
        return OfferState.ACTIVE


class OfferDecisionLog(Base):
    __tablename__ = "offer_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    turn_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("turns.id", ondelete="SET NULL", name="fk_offer_decisions_turn"))
    requested_id: Mapped[str] = mapped_column(String(100))
    granted: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    issued_offer_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("issued_offers.id", ondelete="SET NULL", name="fk_offer_decisions_issued_offer"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
