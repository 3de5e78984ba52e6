"""The payment-provider seam: what the rest of the app may ask of a payment system.

A provider creates a payment for a client, a product and an amount (with an idempotency key:
asking again with the same key returns the same payment), and tells the state of a payment by
its id. YooKassa (`yookassa.YooKassaClient`) and the local stand-in checkout
(`local.LocalCheckout`) implement it; a GetCourse deal or Prodamus would be one more class.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Mapping, Optional, Protocol

SUCCEEDED = "succeeded"
CANCELED = "canceled"
PENDING = "pending"
WAITING_FOR_CAPTURE = "waiting_for_capture"


class PaymentError(Exception):
    """The provider could not do what was asked (our own exception for any provider)."""


class PaymentUnavailable(PaymentError):
    """Timeout, connection error, 429, 5xx or "still processing": try again later (same key)."""


class PaymentRejected(PaymentError):
    """The provider refused the request (bad credentials, invalid body): retrying won't help."""


@dataclass(frozen=True)
class PaymentRequest:
    idempotency_key: str
    amount_rub: int  # whole rubles (the KB's prices are whole rubles)
    description: str  # what the client sees on the checkout (providers may clip it)
    return_url: str  # where the checkout sends the client afterwards
    metadata: Mapping[str, str] = field(default_factory=dict)  # vk_id, product_id, link_id


@dataclass(frozen=True)
class ProviderPayment:
    id: str
    status: str  # pending | waiting_for_capture | succeeded | canceled
    amount: Decimal
    currency: str = "RUB"
    confirmation_url: Optional[str] = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    paid: bool = False

    @property
    def amount_rub(self) -> int:
        """Whole rubles as paid (kopecks rounded half up)."""
        return int(self.amount.quantize(Decimal("1"), rounding="ROUND_HALF_UP"))


class PaymentProvider(Protocol):
    name: str  # stored on each link: "yookassa", "local"

    def create_payment(self, request: PaymentRequest) -> ProviderPayment: ...

    def get_payment(self, payment_id: str) -> Optional[ProviderPayment]:
        """The payment as the provider knows it now; None when it knows no such payment."""
        ...
