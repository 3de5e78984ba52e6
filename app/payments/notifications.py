"""Payment notifications: a hint, never proof.

`POST /hooks/yookassa` (and the local checkout) hand in `{event, object: {id}}`. The hint is
stored (`payment_events`, one row per payment id and event, a replay re-arms it) and settled
right after the answer, by a worker thread here, and again by the scheduler for any hint a
crash left behind. Settling fetches the payment from the provider by id and acts only on a
payment we created (our link holds its id, or its metadata names our link for this client and
product): `succeeded` records the purchase once per payment id (order id `<provider>:<id>`),
marks the granted offer redeemed, moves the card to client, thanks the client once (a stored
outbound message with a random_id derived from the link) and, unless the shop opens access
itself, alerts staff to open it; `canceled` marks the link cancelled. An id the provider does
not know records nothing and is logged.
"""
from __future__ import annotations

import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable, Optional, Sequence

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.models import (
    AccessState,
    Client,
    Dialog,
    IssuedOffer,
    Message,
    PaymentEvent,
    PaymentLink,
    PaymentStatus,
    Purchase,
)
from app.payments.provider import CANCELED, SUCCEEDED, PaymentError, PaymentProvider, ProviderPayment
from app.platform.db import Database
from app.platform.ru_format import format_rub
from app.vk.api import derive_random_id
from app.vk.channel import OutboundChannel, OutboundMessage
from app.vk.errors import VkCannotSend, VkError, VkRefused

if TYPE_CHECKING:
    from app.knowledge.base import KnowledgeBase

log = logging.getLogger(__name__)
EVENTS = ("payment.succeeded", "payment.canceled", "payment.waiting_for_capture",
          "refund.succeeded")
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
KEEP_TRYING = timedelta(days=3)  # a hint unsettled this long (a provider outage) is given up
RETRY_HINTS_EVERY = timedelta(minutes=1)
RETRY_SENDS_EVERY = timedelta(minutes=5)
DEFAULT_NEXT_STEP = ("Доступ к курсу откроется в личном кабинете школы — ссылка на него придёт "
                     "на почту. Если письма нет, напишите сюда, поможем.")


class BadNotification(ValueError):
    """The body is not a notification we can read (answered 400)."""


@dataclass(frozen=True)
class Hint:
    payment_id: str
    event: str


def parse_notification(body: object) -> Hint:
    if not isinstance(body, dict) or not isinstance(body.get("object"), dict):
        raise BadNotification("expected {type, event, object: {id, …}}")
    event = str(body.get("event") or "")
    pid = body["object"].get("id")
    if event not in EVENTS:
        raise BadNotification(f"unknown event {event[:40]!r}")
    if not isinstance(pid, str) or not ID_RE.match(pid):
        raise BadNotification("object.id: not a payment id")
    return Hint(pid, event)


@dataclass(frozen=True)
class Outcome:
    status: str  # paid | already_paid | canceled | unknown | not_ours | not_final | retry
    detail: str = ""


class PaymentNotifications:
    """Stores hints and settles them against the provider; every step idempotent."""

    def __init__(self, db: Database, now: Callable[[], datetime], provider: PaymentProvider,
                 kb: Callable[[], Optional[KnowledgeBase]], channel: OutboundChannel,
                 manager_ids: Sequence[int], shop_opens_access: bool,
                 dialog_link: Callable[[int], str], background: bool = True) -> None:
        self.db, self.now, self.provider, self.kb = db, now, provider, kb
        self.channel, self.manager_ids = channel, list(manager_ids)
        self.shop_opens_access, self.dialog_link = shop_opens_access, dialog_link
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="payments") if background else None
        self._lock = threading.Lock()
        self._retry_at: dict[str, datetime] = {}

    # --- the hook's side: store the hint, settle it soon -------------------------------------
    def receive(self, hint: Hint) -> None:
        now = self.now()
        with self.db.session() as s:
            s.execute(insert(PaymentEvent).values(
                provider=self.provider.name, payment_id=hint.payment_id,
                event=hint.event, received_at=now, outcome="", attempts=0, received=1)
                .on_conflict_do_update(constraint="uq_payment_events_id_event", set_={
                    "received": PaymentEvent.received + 1, "processed_at": None}))
        if self._pool is not None:
            try:
                self._pool.submit(self._settle_logged, hint.payment_id)
            except RuntimeError:  # shutting down: the stored hint is settled by the scheduler
                log.info("payment %s: hint stored, settled later", hint.payment_id)
        else:
            self.settle(hint.payment_id)

    def _settle_logged(self, payment_id: str) -> None:
        try:
            self.settle(payment_id)
        except Exception:  # noqa: BLE001 - the hint stays; the scheduler settles it again
            log.exception("payment %s: settling failed; retried later", payment_id)

    def settle_pending(self, limit: int = 20) -> int:
        """Settle hints left unprocessed (a crash, a provider outage); the scheduler calls it."""
        now = self.now()
        if len(self._retry_at) > 10_000:  # a bound on what this process remembers
            self._retry_at.clear()
        with self.db.session() as s:
            ids = s.execute(select(PaymentEvent.payment_id).where(
                PaymentEvent.processed_at.is_(None), PaymentEvent.received_at > now - KEEP_TRYING)
                .order_by(PaymentEvent.id).limit(limit)).scalars().all()
        for pid in dict.fromkeys(ids):
            if self._retry_at.get(f"hint:{pid}", now) <= now:  # at most once a minute each
                self._retry_at[f"hint:{pid}"] = now + RETRY_HINTS_EVERY
                self._settle_logged(pid)
        return len(ids)

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    # --- verification ------------------------------------------------------------------------
    def settle(self, payment_id: str) -> Outcome:
        with self._lock:  # one settle at a time per process; the DB row lock across processes
            try:
                payment = self.provider.get_payment(payment_id)
            except PaymentError as exc:
                log.warning("payment %s: provider unavailable (%s); hint kept", payment_id, exc)
                self._mark(payment_id, Outcome("retry", str(exc)[:150]), done=False)
                return Outcome("retry", str(exc))
            outcome = self._apply(payment_id, payment)
            if outcome.status in ("paid", "already_paid"):
                self.after_payment(payment_id)  # once: a replay finds it done
            self._mark(payment_id, outcome, done=outcome.status != "retry")
        if outcome.status in ("unknown", "not_ours"):
            log.warning("payment notification for %s: %s (%s); nothing recorded", payment_id,
                        outcome.status, outcome.detail)
        return outcome

    def _mark(self, payment_id: str, outcome: Outcome, done: bool) -> None:
        with self.db.session() as s:
            s.execute(update(PaymentEvent).where(
                PaymentEvent.payment_id == payment_id, PaymentEvent.processed_at.is_(None))
                .values(attempts=PaymentEvent.attempts + 1,
                        outcome=f"{outcome.status}: {outcome.detail}"[:200],
                        processed_at=self.now() if done else None))

    def _our_link(self, s: Session, payment: ProviderPayment) -> Optional[PaymentLink]:
        link = s.execute(select(PaymentLink).where(
            PaymentLink.provider_payment_id == payment.id).with_for_update()).scalar_one_or_none()
        if link is not None:
            return link
        # a crash between the provider's answer and storing its id: the metadata names our link
        link_id = str(payment.metadata.get("link_id", ""))
        if not link_id.isdigit():
            return None
        link = s.execute(select(PaymentLink).where(PaymentLink.id == int(link_id))
                         .with_for_update()).scalar_one_or_none()
        if link is None or link.provider_payment_id not in (None, payment.id):
            return None
        client = s.get(Client, link.client_id)
        assert client is not None, "payment_links.client_id is a foreign key"
        if (payment.metadata.get("product_id") != link.product_id
                or payment.metadata.get("vk_id") != str(client.vk_id)):
            return None
        link.provider_payment_id = payment.id
        return link

    def _apply(self, payment_id: str, payment: Optional[ProviderPayment]) -> Outcome:
        if payment is None:
            return Outcome("unknown", "the provider knows no such payment")
        if payment.id != payment_id:
            return Outcome("not_ours", f"provider answered another id {payment.id[:40]}")
        with self.db.session() as s:
            link = self._our_link(s, payment)
            if link is None:
                return Outcome("not_ours", "no payment link of ours has this payment")
            if link.status == PaymentStatus.SUCCEEDED:
                return Outcome("already_paid", f"link {link.id}")
            if payment.status == CANCELED:
                link.status = PaymentStatus.CANCELED
                link.updated_at = self.now()
                return Outcome("canceled", f"link {link.id}")
            if payment.status != SUCCEEDED or not payment.paid or payment.currency != "RUB":
                return Outcome("not_final", f"status {payment.status}")
            self._record(s, link, payment)
            return Outcome("paid", f"link {link.id}")

    def _record(self, s: Session, link: PaymentLink, payment: ProviderPayment) -> None:
        from app.crm.purchases.row import PurchaseRow
        from app.crm.purchases.store import store

        now = self.now()
        if payment.amount_rub != link.amount_rub:
            log.warning("payment %s: paid %s ₽ for a link of %s ₽ (recorded as paid)",
                        payment.id, payment.amount_rub, link.amount_rub)
        order_id = f"{link.provider}:{payment.id}"[:100]
        client = s.get(Client, link.client_id)
        assert client is not None, "payment_links.client_id is a foreign key"
        if s.execute(select(Purchase.id).where(Purchase.order_id == order_id)).first() is None:
            store(s, client, PurchaseRow(order_id=order_id, vk_id=client.vk_id, email=None,
                                         phone=None, product_id=link.product_id,
                                         is_extension=False, amount_rub=payment.amount_rub,
                                         paid_at=now), link.provider, f"order:{order_id}")
        if link.issued_offer_id is not None:
            offer = s.get(IssuedOffer, link.issued_offer_id)
            if offer is not None:
                offer.redeemed = True
        link.status = PaymentStatus.SUCCEEDED
        link.paid_amount_rub = payment.amount_rub
        link.paid_at = now
        link.purchase_order_id = order_id
        link.access = AccessState.BY_SHOP if self.shop_opens_access else AccessState.WAITING
        link.updated_at = now
        log.info("payment %s: purchase %s recorded for client %s (%s, %s ₽)", payment.id,
                 order_id, client.vk_id, link.product_id, payment.amount_rub)

    # --- after payment: thank the client once, tell staff once -------------------------------
    def after_payment(self, payment_id: str) -> None:
        with self.db.session() as s:
            link = s.execute(select(PaymentLink).where(
                PaymentLink.provider_payment_id == payment_id)).scalar_one_or_none()
            if link is None or link.status != PaymentStatus.SUCCEEDED:
                return
            link_id = link.id
            thanked, alerted = link.thanked, link.staff_alerted or link.access != AccessState.WAITING
        if not thanked:
            self._thank(link_id)
        if not alerted:
            self._alert_staff(link_id)

    def follow_up_paid(self, limit: int = 20) -> None:
        """Thank-yous and staff alerts a failed send left undone (the scheduler calls it)."""
        since = self.now() - timedelta(days=3)
        with self.db.session() as s:
            ids = s.execute(select(PaymentLink.provider_payment_id).where(
                PaymentLink.status == PaymentStatus.SUCCEEDED, PaymentLink.paid_at > since,
                (PaymentLink.thanked.is_(False)) | ((PaymentLink.access == AccessState.WAITING)
                                                    & PaymentLink.staff_alerted.is_(False)))
                .limit(limit)).scalars().all()
        now = self.now()
        for pid in ids:
            if pid and self._retry_at.get(pid, now) <= now:
                self._retry_at[pid] = now + RETRY_SENDS_EVERY  # a failing send is not hammered
                self.after_payment(pid)

    def thanks_text(self, product_id: str, amount_rub: int) -> str:
        kb = self.kb()
        product = kb.product(product_id) if kb is not None else None
        title = product.title if product is not None else product_id
        step = ((product.after_payment if product is not None else "") or
                (kb.school.after_payment if kb is not None else "") or DEFAULT_NEXT_STEP)
        return (f"Спасибо за оплату! Платёж {format_rub(amount_rub)} за «{title}» получен.\n"
                f"{step.strip()}")

    def _thank(self, link_id: int) -> None:
        random_id = derive_random_id(f"payment:{link_id}:thanks")
        with self.db.session() as s:  # the link's row lock: one stored thank-you per link
            link = s.execute(select(PaymentLink).where(PaymentLink.id == link_id)
                             .with_for_update()).scalar_one()
            dialog = s.execute(select(Dialog).where(
                Dialog.client_id == link.client_id)).scalar_one_or_none()
            if dialog is None:
                link.thanked = True  # nobody to write to (no dialog): nothing to send
                return
            row = s.execute(select(Message).where(Message.dialog_id == dialog.id,
                                                  Message.random_id == random_id)
                            ).scalars().first()
            if row is None:
                row = Message(dialog_id=dialog.id, direction="out", source="bot",
                              text=self.thanks_text(link.product_id,
                                                    link.paid_amount_rub or link.amount_rub),
                              random_id=random_id, attachments=[], created_at=self.now())
                s.add(row)
                s.flush()
            row_id, peer_id, text = row.id, dialog.peer_id, row.text
            if row.vk_message_id is not None:
                link.thanked = True
                return
        sent = self._send(peer_id, text, random_id)
        if sent is None:
            return
        with self.db.session() as s:
            row = s.get(Message, row_id)
            assert row is not None, "the thank-you row was stored above"
            row.vk_message_id = sent[0] if sent else None
            row.held_back = not sent  # undeliverable: kept for staff, never shown as sent
            paid = s.get(PaymentLink, link_id)
            assert paid is not None, "payment links are never deleted"
            paid.thanked = True
            dialog = s.execute(select(Dialog).join(Message, Message.dialog_id == Dialog.id)
                               .where(Message.id == row_id)).scalar_one()
            dialog.last_outbound_at = self.now()

    def _send(self, peer_id: int, text: str, random_id: int) -> Optional[list[int]]:
        """Default intent; outside VK's reply window, `purchase_update`. None when not sent."""
        channel = self.channel
        for intent in (None, "purchase_update"):
            try:
                return channel.send(OutboundMessage(peer_id, text, random_id, intent=intent))
            except VkRefused as exc:
                log.warning("thank-you to %s refused (intent %s): %s", peer_id, intent, exc)
            except VkCannotSend as exc:  # the client does not accept messages: never will be
                log.warning("thank-you to %s cannot be delivered: %s", peer_id, exc)
                return []
            except VkError as exc:
                log.warning("thank-you to %s not sent: %s; retried later", peer_id, exc)
                return None
        return None

    def _alert_staff(self, link_id: int) -> None:
        with self.db.session() as s:
            link = s.get(PaymentLink, link_id)
            assert link is not None, "payment links are never deleted"
            client = s.get(Client, link.client_id)
            assert client is not None, "payment_links.client_id is a foreign key"
            dialog = s.execute(select(Dialog).where(
                Dialog.client_id == client.id)).scalar_one_or_none()
            kb = self.kb()
            product = kb.product(link.product_id) if kb is not None else None
            text = (f"Оплата получена: откройте доступ.\n"
                    f"Клиент: {client.display_name} (vk id {client.vk_id})\n"
                    f"Продукт: {product.title if product else link.product_id}\n"
                    f"Сумма: {format_rub(link.paid_amount_rub or link.amount_rub)}, платёж "
                    f"{link.provider_payment_id}\n"
                    f"Диалог: {self.dialog_link(dialog.peer_id if dialog else client.vk_id)}")
        ok = bool(self.manager_ids)
        channel = self.channel
        for manager in self.manager_ids:
            try:
                channel.send(OutboundMessage(manager, text,
                                             derive_random_id(f"payment:{link_id}:access:{manager}")))
            except VkError as exc:
                ok = False
                log.warning("manager %s not told about paid link %s: %s", manager, link_id, exc)
        if not self.manager_ids:
            log.warning("paid link %s waits for access: MANAGER_PEER_IDS is empty", link_id)
        with self.db.session() as s:
            alerted = s.get(PaymentLink, link_id)
            assert alerted is not None, "payment links are never deleted"
            alerted.staff_alerted = ok or not self.manager_ids
