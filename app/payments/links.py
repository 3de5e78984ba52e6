"""Payment links: the amount decided by code, one provider payment per client, product and
amount (a repeated request reuses the pending one), and what the reply says about it.

The amount is the KB price less a discount only when the sales policy granted one to this
client for this product (or for no product in particular), it is unredeemed and unexpired;
never more than the KB's `max_discount_percent`. The provider is called outside any database
transaction; an outage leaves the link `creating` (retried with the same idempotency key by the
next request) and the reply gives the product page instead.
"""
from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable, Literal, Optional

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.brain.contract import PaymentOffer
from app.models import Client, IssuedOffer, PaymentLink, PaymentStatus
from app.payments.provider import CANCELED, SUCCEEDED, PaymentError, PaymentProvider, PaymentRequest
from app.platform.db import Database
from app.platform.ru_format import format_rub as rub_text

if TYPE_CHECKING:
    from app.knowledge.base import KnowledgeBase
    from app.knowledge.schema import Product

log = logging.getLogger(__name__)
OPEN: tuple[str, ...] = (PaymentStatus.CREATING, PaymentStatus.PENDING)
RECHECK_AFTER = timedelta(minutes=30)  # a pending link older than this is re-checked before reuse


@dataclass(frozen=True)
class Price:
    amount_rub: int
    list_price_rub: int
    percent: Optional[int] = None
    issued_offer_id: Optional[int] = None


def decide_price(s: Session, client_id: int, product: Product, kb: KnowledgeBase,
                 now: datetime) -> Price:
    """KB price less this client's granted, unredeemed, unexpired discount for the product,
    capped by the KB's `max_discount_percent` (rounded up to whole rubles)."""
    price = int(product.price_rub)
    grant = s.execute(select(IssuedOffer).where(
        IssuedOffer.client_id == client_id, IssuedOffer.kind == "discount",
        IssuedOffer.redeemed.is_(False), IssuedOffer.percent.is_not(None),
        or_(IssuedOffer.product_id.is_(None), IssuedOffer.product_id == product.id),
        or_(IssuedOffer.expires_at.is_(None), IssuedOffer.expires_at > now))
        .order_by(IssuedOffer.percent.desc(), IssuedOffer.id)).scalars().first()
    if grant is None:
        return Price(price, price)
    percent = max(0, min(int(grant.percent or 0), int(kb.offers.max_discount_percent)))
    if percent == 0:
        return Price(price, price)
    return Price(math.ceil(price * (100 - percent) / 100), price, percent, grant.id)


class PaymentLinks:
    """Makes (or reuses) the payment link for a client's chosen product."""

    def __init__(self, db: Database, now: Callable[[], datetime],
                 provider: Optional[PaymentProvider], return_url: str) -> None:
        self.db, self.now, self.provider, self.return_url = db, now, provider, return_url

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    def link_for(self, client_id: int, product_id: Optional[str], kb: Optional[KnowledgeBase],
                 turn_id: Optional[int]) -> Optional[PaymentOffer]:
        """The payment link for this product (None: no provider, or no such product: the reply
        stays as today, with the KB's product URL)."""
        if self.provider is None or kb is None or not product_id:
            return None
        product = kb.product(product_id)
        if product is None:
            return None
        link_id, key, reused = self._reserve(client_id, product, kb, turn_id)
        if reused and self._expired(link_id):  # the provider gave up on the old payment
            link_id, key, reused = self._reserve(client_id, product, kb, turn_id)
        with self.db.session() as s:
            link = s.get(PaymentLink, link_id)
            assert link is not None, "_reserve returned the id of a committed link"
            if link.status == PaymentStatus.PENDING and link.confirmation_url:
                return self._offer(link, product, "ready", reused=True)
            client = s.get(Client, client_id)
            assert client is not None, "a payment link is made for an existing client"
            vk_id = client.vk_id
            request = PaymentRequest(
                idempotency_key=key, amount_rub=link.amount_rub,
                description=f"{product.title} — {kb.school.name}", return_url=self.return_url,
                metadata={"vk_id": str(vk_id), "product_id": product.id,
                          "link_id": str(link.id), "client_id": str(client_id)})
        try:
            payment = self.provider.create_payment(request)
        except (PaymentError, ValueError) as exc:
            log.warning("payment link %s for client %s (%s): provider failed: %s",
                        link_id, client_id, product.id, exc)
            with self.db.session() as s:
                link = s.get(PaymentLink, link_id)
                assert link is not None, "payment links are never deleted"
                link.last_error = str(exc)[:500]
                return self._offer(link, product, "unavailable")
        with self.db.session() as s:
            link = s.get(PaymentLink, link_id)
            assert link is not None, "payment links are never deleted"
            link.provider_payment_id = payment.id
            link.confirmation_url = payment.confirmation_url
            link.last_error = ""
            if payment.status == CANCELED:
                link.status = PaymentStatus.CANCELED
            elif link.status == PaymentStatus.CREATING and payment.status != SUCCEEDED:
                link.status = PaymentStatus.PENDING
            ready = bool(payment.confirmation_url) and link.status == PaymentStatus.PENDING
            log.info("payment link %s: %s %s ₽ for client %s (%s)", link.id, payment.id,
                     link.amount_rub, client_id, product.id)
            return self._offer(link, product, "ready" if ready else "unavailable", reused)

    def _expired(self, link_id: int) -> bool:
        """A pending link older than RECHECK_AFTER is checked with the provider before it is
        sent again (an unpaid payment expires there): a cancelled one is marked so and a new
        link is made. A provider that cannot answer now leaves the link as it is."""
        with self.db.session() as s:
            link = s.get(PaymentLink, link_id)
            assert link is not None, "payment links are never deleted"
            pid, fresh = link.provider_payment_id, self.now() - link.created_at < RECHECK_AFTER
        if pid is None or fresh or self.provider is None:
            return False
        try:
            payment = self.provider.get_payment(pid)
        except PaymentError as exc:
            log.info("payment link %s: could not re-check %s (%s); sent as it is", link_id,
                     pid, exc)
            return False
        if payment is not None and payment.status != CANCELED:
            return False
        with self.db.session() as s:
            link = s.get(PaymentLink, link_id)
            assert link is not None, "payment links are never deleted"
            if link.status in OPEN:
                link.status = PaymentStatus.CANCELED
                link.last_error = "expired at the provider" if payment else "unknown to provider"
        return True

    def _reserve(self, client_id: int, product: Product, kb: KnowledgeBase,
                 turn_id: Optional[int]) -> tuple[int, str, bool]:
        """The open link for (client, product, amount), or a new one with a fresh key."""
        for attempt in (1, 2):
            try:
                with self.db.session() as s:
                    s.execute(select(Client.id).where(Client.id == client_id).with_for_update())
                    price = decide_price(s, client_id, product, kb, self.now())
                    link = s.execute(select(PaymentLink).where(
                        PaymentLink.client_id == client_id, PaymentLink.product_id == product.id,
                        PaymentLink.amount_rub == price.amount_rub,
                        PaymentLink.status.in_(OPEN))).scalars().first()
                    if link is not None:
                        return link.id, link.idempotency_key, True
                    link = PaymentLink(
                        client_id=client_id, product_id=product.id, amount_rub=price.amount_rub,
                        list_price_rub=price.list_price_rub, percent=price.percent,
                        issued_offer_id=price.issued_offer_id, turn_id=turn_id,
                        provider=self.provider.name if self.provider else "",
                        idempotency_key=uuid.uuid4().hex, status=PaymentStatus.CREATING,
                        created_at=self.now(), updated_at=self.now())
                    s.add(link)
                    s.flush()
                    return link.id, link.idempotency_key, False
            except IntegrityError:  # a concurrent request made it: take that one
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _offer(link: PaymentLink, product: Product, status: Literal["ready", "unavailable"],
               reused: bool = False) -> PaymentOffer:
        return PaymentOffer(product_id=product.id, title=product.title,
                            amount_rub=link.amount_rub, list_price_rub=link.list_price_rub,
                            percent=link.percent, status=status,
                            url=link.confirmation_url if status == "ready" else None,
                            product_url=product.url, link_id=link.id,
                            reused=reused)


PAY_LABEL = "Оплатить {amount}"


def button_label(offer: PaymentOffer) -> str:
    return PAY_LABEL.format(amount=rub_text(offer.amount_rub))


def reply_lines(offer: PaymentOffer, as_button: bool) -> str:
    """What code adds to the reply: the amount, and the link (as text unless it is a button)."""
    amount = rub_text(offer.amount_rub)
    if offer.status != "ready" or not offer.url:
        page = f" Оплатить можно на странице курса: {offer.product_url}" if offer.product_url \
            else " Напишите, и менеджер пришлёт ссылку."
        return ("Ссылку на оплату сейчас сформировать не получилось: платёжный сервис не "
                f"отвечает.{page} Сумма к оплате — {amount}.")
    discount = (f" (цена {rub_text(offer.list_price_rub)}, ваша скидка {offer.percent}%)"
                if offer.percent else "")
    where = "по кнопке ниже." if as_button else f"по ссылке: {offer.url}"
    return f"«{offer.title}»: к оплате {amount}{discount}. Оплатить можно {where}"


def with_payment(text: str, offer: Optional[PaymentOffer], keyboard: Optional[str]) -> str:
    """The reply with the payment lines appended (the link as text when no button carries it)."""
    if offer is None:
        return text
    as_button = bool(offer.url and keyboard and offer.url in keyboard)
    return (text.rstrip() + "\n\n" + reply_lines(offer, as_button)).strip()
