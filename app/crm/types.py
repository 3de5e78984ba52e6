"""Plain views of the card's purchases and offers, and the sales policy's decision.

Owned by crm; the brain reads them (type-only import) to write replies and check guardrails.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Optional


@dataclass(frozen=True)
class PurchaseView:
    product_id: str
    title: str
    paid_at: datetime
    access_until: Optional[datetime]  # None = lifetime access


@dataclass(frozen=True)
class OfferView:
    """A discount or bonus the sales policy has already granted to this client."""

    offer_id: str
    kind: Literal["discount", "bonus"]
    code: Optional[str]
    percent: Optional[int]
    product_id: Optional[str]
    expires_at: Optional[datetime]


@dataclass
class OfferDecision:
    """What `crm.sales` decided about the analysis' offer request."""

    requested_id: str
    granted: bool
    reason: str
    kind: Optional[Literal["discount", "bonus"]] = None
    percent: Optional[int] = None
    code: Optional[str] = None
    product_id: Optional[str] = None
    expires_at: Optional[datetime] = None
    title: Optional[str] = None
