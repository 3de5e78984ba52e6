"""Every state a stored row can be in, with the Russian label the staff panel shows.

Values equal the strings stored in the database (so a plain string compares equal); each enum
has `label`, and `labels()` feeds the panel: a state without a label cannot be added.
`TurnKind` and `TurnFlag` live in `app.platform.vocabulary` (the brain uses them too).
"""
from __future__ import annotations

from app.platform.vocabulary import LABELS, TurnFlag, TurnKind
from app.platform.vocabulary import Labelled as _Labelled

__all__ = ["AccessState", "FunnelStage", "OfferState", "OrderCheck", "PaymentStatus",
           "ReminderStatus", "TurnFlag", "TurnKind", "TurnStatus", "VkPermission"]


class FunnelStage(_Labelled):
    COLD = "cold"
    WARM = "warm"
    HOT = "hot"
    CLIENT = "client"
    RETURNING = "returning"


class VkPermission(_Labelled):
    """What VK said about messages from the community (message_allow / message_deny)."""

    UNKNOWN = "unknown"
    ALLOWED = "allowed"
    DENIED = "denied"


class TurnStatus(_Labelled):
    RUNNING = "running"
    DONE = "done"  # the reply reached VK
    SILENT = "silent"  # decided, but held back (pause, handoff, client can't be written to)
    UNDELIVERABLE = "undeliverable"  # VK refused this peer (901/902)
    SKIPPED = "skipped"  # a proactive turn whose reminder no longer made sense
    FAILED = "failed"  # gave up after repeated errors; a person was called


class ReminderStatus(_Labelled):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    FAILED = "failed"
    REFUSED = "refused"  # VK refused the send (reply window / intent): staff were told


class OfferState(_Labelled):
    ACTIVE = "active"
    EXPIRED = "expired"
    REDEEMED = "redeemed"


class OrderCheck(_Labelled):
    """An order that matched only a contact a client typed in chat, waiting for staff."""

    WAITING = "waiting"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


class PaymentStatus(_Labelled):
    """A payment link's state (the provider's payment, as last verified by fetching it)."""

    CREATING = "creating"  # asked the provider; no answer yet (an outage keeps it here)
    PENDING = "pending"  # the link was sent; not paid yet
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


class AccessState(_Labelled):
    """Course access after a paid link: opened by staff (alerted) or by the shop itself."""

    NONE = ""
    WAITING = "waiting"
    OPENED = "opened"
    BY_SHOP = "by_shop"


LABELS.update({
    "FunnelStage": {"cold": "холодный", "warm": "тёплый", "hot": "горячий", "client": "клиент",
                    "returning": "вернувшийся"},
    "VkPermission": {"unknown": "не сообщал", "allowed": "разрешил сообщения",
                     "denied": "запретил сообщения"},
    "TurnStatus": {"running": "выполняется", "done": "отправлен", "silent": "не отправлен",
                   "undeliverable": "VK не доставил", "skipped": "пропущен",
                   "failed": "ошибка, позван человек"},
    "ReminderStatus": {"pending": "ждёт", "sending": "отправляется", "sent": "отправлено",
                       "cancelled": "отменено", "skipped": "пропущено", "failed": "ошибка",
                       "refused": "VK отказал"},
    "OfferState": {"active": "действует", "expired": "истекло", "redeemed": "использовано"},
    "OrderCheck": {"waiting": "ждёт проверки", "confirmed": "привязан", "dismissed": "отклонён"},
    "PaymentStatus": {"creating": "создаётся", "pending": "ждёт оплаты", "succeeded": "оплачен",
                      "canceled": "отменён"},
    "AccessState": {"": "не нужен", "waiting": "ждёт доступа", "opened": "доступ открыт",
                    "by_shop": "открывает магазин"},
})
