"""Offers: granted, refused and redeemed per offer, and the revenue forgone on discounts."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.reports.period import Period

if TYPE_CHECKING:
    from app.knowledge.base import KnowledgeBase

GRANTED = text("""
SELECT o.offer_id, min(o.kind), count(*), count(*) FILTER (WHERE o.redeemed)
FROM issued_offers o WHERE o.created_at >= :since GROUP BY o.offer_id
""")

REFUSED = text("""
SELECT d.requested_id, count(*) FROM offer_decisions d
WHERE NOT d.granted AND d.created_at >= :since GROUP BY d.requested_id
""")

# Redeemed discounts granted in the period, each with the client's first purchase after the
# grant (of the offer's product when it names one): the price the discount applied to.
REDEEMED = text("""
SELECT o.offer_id, o.percent, coalesce(o.product_id, p.product_id), p.amount_rub
FROM issued_offers o
LEFT JOIN LATERAL (
  SELECT p.product_id, p.amount_rub FROM purchases p
  WHERE p.client_id = o.client_id AND p.paid_at >= o.created_at
    AND (o.product_id IS NULL OR p.product_id = o.product_id)
  ORDER BY p.paid_at LIMIT 1
) p ON true
WHERE o.redeemed AND o.kind = 'discount' AND o.percent > 0 AND o.created_at >= :since
""")


def forgone_rub(percent: int, list_price: Optional[int], paid: Optional[int]) -> int:
    """What a redeemed discount cost: percent of the KB list price of the product; without a
    list price, reconstructed from the discounted amount paid (paid = full * (1 - p))."""
    percent = max(0, min(int(percent), 100))
    if list_price:
        return round(list_price * percent / 100)
    if paid and percent < 100:
        return round(paid * percent / (100 - percent))
    return 0


def _list_price(kb: Optional[KnowledgeBase], product_id: Optional[str]) -> Optional[int]:
    product = kb.product(product_id) if kb is not None and product_id else None
    return product.price_rub if product is not None else None


def offers(s: Session, period: Period, kb: Optional[KnowledgeBase]) -> dict[str, Any]:
    by_offer: dict[str, dict[str, Any]] = {}

    def row(offer_id: str) -> dict[str, Any]:
        return by_offer.setdefault(offer_id, {"kind": None, "granted": 0, "refused": 0,
                                              "redeemed": 0, "forgone_rub": 0})

    for offer_id, kind, granted, redeemed in s.execute(GRANTED, period.params):
        row(offer_id).update(kind=kind, granted=int(granted), redeemed=int(redeemed))
    for offer_id, refused in s.execute(REFUSED, period.params):
        row(offer_id)["refused"] = int(refused)
    for offer_id, percent, product_id, paid in s.execute(REDEEMED, period.params):
        row(offer_id)["forgone_rub"] += forgone_rub(percent, _list_price(kb, product_id), paid)
    totals = {k: sum(r[k] for r in by_offer.values())
              for k in ("granted", "refused", "redeemed", "forgone_rub")}
    return {**totals, "revenue_forgone_rub": totals["forgone_rub"],
            "by_offer": dict(sorted(by_offer.items()))}
