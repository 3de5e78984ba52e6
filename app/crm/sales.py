"""Sales policy: the analysis *requests* a discount or bonus; code decides and audits.

Rules (all enforced here, never by the model):
- only offers that exist in the knowledge base's `offers`;
- never on a demand: a request the client forced («дайте скидку 50%», «сгенерируй промокод») is
  refused (`request.client_demand`, set by the analysis or from the client's words);
- a discount never above `offers.max_discount_percent` (hard cap);
- one active discount per client (the client row is locked while deciding a discount, so two
  overlapping turns cannot both grant one); the same offer is never granted twice (unique);
- not for a product the client already owns; stage must fit the offer;
- an offer's optional KB `conditions` (stages, new_clients_only, products, min_purchases) are
  checked here; without `stages`, discounts are for warm, hot and returning clients;
- a granted discount gets a unique promo code and an expiry (`valid_days`).
Every decision, granted or refused, is stored in `offer_decisions` with its reason.
"""
from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Optional

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.brain.contract import OfferDecision
from app.crm.cards import paid_items
from app.crm.purchases.access_math import split_extension
from app.knowledge.schema import Bonus, Discount
from app.models import Client, IssuedOffer, OfferDecisionLog

if TYPE_CHECKING:
    from app.brain.analysis import OfferRequest
    from app.knowledge.base import KnowledgeBase
    from app.knowledge.schema import OfferConditions

log = logging.getLogger(__name__)
LEAD_STAGES = ("warm", "hot")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _find_offer(kb: KnowledgeBase, offer_id: str) -> tuple[Optional[str], Discount | Bonus | None]:
    for d in kb.offers.discounts:
        if d.id == offer_id:
            return "discount", d
    for b in kb.offers.bonuses:
        if b.id == offer_id:
            return "bonus", b
    return None, None


def _active_discount(s: Session, client_id: int, now: datetime) -> Optional[IssuedOffer]:
    """A granted, unredeemed discount that has not expired (no expiry = active until used)."""
    return s.execute(select(IssuedOffer).where(
        IssuedOffer.client_id == client_id, IssuedOffer.kind == "discount",
        IssuedOffer.redeemed.is_(False),
        or_(IssuedOffer.expires_at.is_(None), IssuedOffer.expires_at > now))).scalars().first()


def _condition_refusal(kind: str, conditions: Optional[OfferConditions], stage: str, owned: set[str],
                       product_id: Optional[str]) -> Optional[str]:
    """The offer's explicit KB `conditions` (or the default stage rule for discounts)."""
    stages = conditions.stages if conditions is not None else None
    if stages and stage not in stages:
        return f"stage {stage} not in {list(stages)}"
    if not stages and kind == "discount" and stage not in LEAD_STAGES + ("returning",):
        return f"discounts are for interested clients; stage is {stage}"
    if conditions is None:
        return None
    if conditions.staff_only:
        return "granted by the school's staff only (a condition code cannot check)"
    if conditions.new_clients_only and owned:
        return "only for clients without purchases"
    if conditions.min_purchases and len(owned) < conditions.min_purchases:
        return (f"needs at least {conditions.min_purchases} purchased product(s); "
                f"client has {len(owned)}")
    if conditions.products and product_id not in conditions.products:
        return (f"only for products {list(conditions.products)}; "
                f"requested {product_id or 'no product'}")
    return None


def _refusal(kind: str, offer: Discount | Bonus, client: Client, owned: set[str],
             product_id: Optional[str], s: Session, now: datetime, cap: int) -> Optional[str]:
    """The reason this client may not have this offer, or None if eligible."""
    if kind == "discount" and isinstance(offer, Discount) and offer.percent > cap:
        return f"{offer.percent}% is above the cap of {cap}%"
    reason = _condition_refusal(kind, offer.conditions, client.funnel_stage, owned, product_id)
    if reason is not None:
        return reason
    if product_id and product_id in owned:
        return f"client already owns {product_id}"
    if kind == "discount" and _active_discount(s, client.id, now) is not None:
        return "client already has an active discount"
    granted = s.execute(select(IssuedOffer.id).where(
        IssuedOffer.client_id == client.id, IssuedOffer.offer_id == offer.id)).first()
    if granted is not None:
        return "already granted to this client before"
    return None


def new_code(s: Session, percent: int) -> str:
    while True:
        code = f"PIANO{percent}-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))
        if s.execute(select(IssuedOffer.id).where(IssuedOffer.code == code)).first() is None:
            return code


def decide(s: Session, client: Client, request: OfferRequest, kb: Optional[KnowledgeBase], now: datetime,
           turn_id: Optional[int]) -> OfferDecision:
    """Grant or refuse one request (idempotent per turn) and log the decision."""
    offer_id = str(request.offer_id or "").strip().lower()[:100]
    product_id = request.product_id
    previous = _decision_for_turn(s, client.id, turn_id, offer_id, kb)
    if previous is not None:
        return previous
    assert kb is not None, "an offer is decided only with a knowledge base loaded"
    kind, offer = _find_offer(kb, offer_id)
    if request.client_demand:  # never a prize for insisting
        demand = "the client demanded it: a discount or bonus is never granted on a demand"
        s.add(OfferDecisionLog(client_id=client.id, turn_id=turn_id, requested_id=offer_id,
                               granted=False, reason=demand, created_at=now))
        log.info("offer %s refused for client %s: %s", offer_id, client.vk_id, demand)
        return OfferDecision(offer_id, False, demand)
    if kind == "discount":  # one active discount: overlapping turns take turns on the client row
        s.execute(select(Client.id).where(Client.id == client.id).with_for_update())
    owned = {split_extension(p.product_id)[0] for p in paid_items(s, client.id)}
    if not isinstance(product_id, str) or kb.product(product_id) is None:
        product_id = None
    reason = ("no such offer in the knowledge base" if offer is None or kind is None else
              _refusal(kind, offer, client, owned, product_id, s, now,
                       kb.offers.max_discount_percent))
    if reason is not None:
        s.add(OfferDecisionLog(client_id=client.id, turn_id=turn_id, requested_id=offer_id,
                               granted=False, reason=reason, created_at=now))
        log.info("offer %s refused for client %s: %s", offer_id, client.vk_id, reason)
        return OfferDecision(offer_id, False, reason)
    assert kind is not None and offer is not None, "no refusal: the offer was found"
    return _grant(s, client, kind, offer, product_id, now, turn_id)


def _grant(s: Session, client: Client, kind: str, offer: Discount | Bonus, product_id: Optional[str],
           now: datetime, turn_id: Optional[int]) -> OfferDecision:
    percent = offer.percent if kind == "discount" and isinstance(offer, Discount) else None
    days = offer.valid_days if isinstance(offer, Discount) else None
    expires = now + timedelta(days=days) if days else None
    code = new_code(s, percent) if percent is not None else None
    row = IssuedOffer(client_id=client.id, offer_id=offer.id, kind=kind, code=code,
                      percent=percent, product_id=product_id, expires_at=expires, turn_id=turn_id,
                      created_at=now)
    s.add(row)
    s.flush()
    reason = offer.when.strip() or "eligible"
    s.add(OfferDecisionLog(client_id=client.id, turn_id=turn_id, requested_id=offer.id,
                           granted=True, reason=f"granted: {reason}"[:1000],
                           issued_offer_id=row.id, created_at=now))
    log.info("offer %s granted to client %s (code %s)", offer.id, client.vk_id, code)
    return OfferDecision(offer.id, True, "granted", kind=kind, percent=percent, code=code,  # type: ignore[arg-type]
                         product_id=product_id, expires_at=expires,
                         title=offer.title if isinstance(offer, Bonus) else None)


def _decision_for_turn(s: Session, client_id: int, turn_id: Optional[int], offer_id: str,
                       kb: Optional[KnowledgeBase] = None) -> Optional[OfferDecision]:
    if turn_id is None:
        return None
    row = s.execute(select(OfferDecisionLog).where(
        OfferDecisionLog.client_id == client_id, OfferDecisionLog.turn_id == turn_id,
        OfferDecisionLog.requested_id == offer_id)).scalars().first()
    if row is None:
        return None
    if not row.granted:
        return OfferDecision(offer_id, False, row.reason)
    o = s.get(IssuedOffer, row.issued_offer_id)
    if o is None:  # the grant was deleted by staff: report the logged decision, grant nothing
        return OfferDecision(offer_id, False, "granted offer no longer exists")
    _, offer = _find_offer(kb, offer_id) if kb is not None else (None, None)
    return OfferDecision(offer_id, True, "granted", kind=o.kind, percent=o.percent,  # type: ignore[arg-type]
                         code=o.code, product_id=o.product_id, expires_at=o.expires_at,
                         title=offer.title if isinstance(offer, Bonus) else None)


def allowed_mentions(s: Session, client_id: int, now: datetime) -> tuple[set[str], set[int]]:
    """Codes and percents the reply may mention: this client's still-valid grants."""
    rows = s.execute(select(IssuedOffer).where(
        IssuedOffer.client_id == client_id, IssuedOffer.kind == "discount",
        IssuedOffer.redeemed.is_(False),
        or_(IssuedOffer.expires_at.is_(None), IssuedOffer.expires_at > now))).scalars().all()
    return {r.code for r in rows if r.code}, {r.percent for r in rows if r.percent}
