"""Escalations sent to the managers."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import utcnow
from app.platform.db import Base


class ManagerAlert(Base):
    """An escalation sent to the managers (at most one per dialog per day)."""

    __tablename__ = "manager_alerts"
    __table_args__ = (UniqueConstraint("client_id", "day", name="uq_manager_alerts_client_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    turn_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("turns.id", ondelete="SET NULL", name="fk_manager_alerts_turn"))
    reason: Mapped[str] = mapped_column(Text)
    day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD in the school's zone
    sent: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
