"""Payments: a provider seam (YooKassa, the local stand-in checkout), payment links at the price
code decides, and verified notifications that turn a paid link into a purchase on the card.

Public API (other packages import from here only):
- `PaymentProvider`, `PaymentRequest`, `ProviderPayment`, `PaymentError`, `PaymentUnavailable`,
  `PaymentRejected`: the seam; `YooKassaClient`, `LocalCheckout`: its implementations;
- `PaymentLinks`: make or reuse the link for a client's chosen product (`link_for`),
  `with_payment` / `button_label`: what the reply says and shows;
- `PaymentNotifications`, `parse_notification`, `BadNotification`: the notification path;
- `panel`: what the staff panel reads and marks (links, paid orders waiting for access).
Collaborators (database, clock, provider, channel, KB) are handed in; nothing here reads a
global or a service container.
"""
from app.payments import panel  # what the staff panel reads (awaiting access, links)
from app.payments.bundle import Payments
from app.payments.links import PaymentLinks, Price, button_label, decide_price, with_payment
from app.payments.local import LocalCheckout
from app.payments.notifications import (
                                        BadNotification,
                                        Hint,
                                        Outcome,
                                        PaymentNotifications,
                                        parse_notification,
)
from app.payments.provider import (
                                        PaymentError,
                                        PaymentProvider,
                                        PaymentRejected,
                                        PaymentRequest,
                                        PaymentUnavailable,
                                        ProviderPayment,
)
from app.payments.yookassa import YooKassaClient

__all__ = [
    "BadNotification", "Hint", "Payments", "LocalCheckout", "Outcome", "PaymentError", "PaymentLinks",
    "PaymentNotifications", "PaymentProvider", "PaymentRejected", "PaymentRequest",
    "PaymentUnavailable", "Price", "ProviderPayment", "YooKassaClient", "button_label",
    "decide_price", "panel", "parse_notification", "with_payment",
]
