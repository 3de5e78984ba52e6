"""VK's per-community call budget, shared by every process and replica (one row a community)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.db import Base


class VkRateBudget(Base):
    """`next_at`: the first moment a new VK call of this community may start. A call takes the
    slot with one UPDATE … RETURNING (see `app.vk.budget.PgBudget`)."""

    __tablename__ = "vk_rate_budget"

    group_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    next_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
