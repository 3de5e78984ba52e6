"""Purchases imported from the shop (CSV or payment webhook)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import utcnow
from app.models.states import OrderCheck
from app.platform.db import Base


class Purchase(Base):
    __tablename__ = "purchases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[str] = mapped_column(String(100), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="product")  # product|extension
    amount_rub: Mapped[int] = mapped_column(Integer)
    paid_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(20), default="import")  # import|webhook|staff
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class UnmatchedOrder(Base):
    """A paid order that matched a client only by contact data the client typed in chat
    (a claim). It waits here until staff confirm it for a candidate (or dismiss it)."""

    __tablename__ = "unmatched_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[str] = mapped_column(String(100), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # the validated row, JSON-safe
    candidate_ids: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default="[]")
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    source: Mapped[str] = mapped_column(String(20), default="import")
    status: Mapped[str] = mapped_column(String(16), default=OrderCheck.WAITING,
                                        server_default="waiting", index=True)
    resolved_client_id: Mapped[Optional[int]] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
