"""The payments part as the wiring hands it around: the provider, links and notifications."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from app.payments.links import PaymentLinks
from app.payments.local import LocalCheckout
from app.payments.notifications import PaymentNotifications
from app.payments.provider import PaymentProvider


@dataclass
class Payments:
    provider: PaymentProvider
    links: PaymentLinks
    notifications: PaymentNotifications
    local: Optional[LocalCheckout] = None  # the stand-in checkout (local mode only)

    def recover(self) -> int:
        """Scheduler tick: hints a crash or outage left unsettled, thank-yous and staff alerts
        a failed send left undone."""
        n = self.notifications.settle_pending()
        self.notifications.follow_up_paid()
        return n

    def shutdown(self) -> None:
        self.notifications.shutdown()
