"""Payments: links sent in the period → paid (conversion), the money they brought, and that
money attributed to the dialog (the turn that made the link) and the offer whose discount it
carried."""
from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.models import AccessState, PaymentStatus
from app.reports.period import Period

# links that reached the client (the provider answered with a page), made in the period
TOTALS = text("""
SELECT count(*) FILTER (WHERE l.confirmation_url IS NOT NULL),
       count(*) FILTER (WHERE l.status = :paid),
       coalesce(sum(l.paid_amount_rub) FILTER (WHERE l.status = :paid), 0),
       coalesce(sum(l.paid_amount_rub) FILTER (WHERE l.status = :paid
                                               AND l.turn_id IS NOT NULL), 0),
       count(*) FILTER (WHERE l.status = :paid AND l.access = :waiting)
FROM payment_links l WHERE l.created_at >= :since
""")

BY_OFFER = text("""
SELECT coalesce(o.offer_id, ''), count(*) FILTER (WHERE l.confirmation_url IS NOT NULL),
       count(*) FILTER (WHERE l.status = :paid),
       coalesce(sum(l.paid_amount_rub) FILTER (WHERE l.status = :paid), 0)
FROM payment_links l LEFT JOIN issued_offers o ON o.id = l.issued_offer_id
WHERE l.created_at >= :since GROUP BY 1 ORDER BY 1
""")


def payments(s: Session, period: Period) -> dict[str, Any]:
    params = {**period.params, "paid": PaymentStatus.SUCCEEDED.value,
              "waiting": AccessState.WAITING.value}
    sent, paid, paid_rub, from_dialog, waiting = s.execute(TOTALS, params).one()
    by_offer = {(offer or "без скидки"): {"links_sent": n, "paid": p, "paid_rub": int(rub)}
                for offer, n, p, rub in s.execute(BY_OFFER, params).all()}
    return {"links_sent": sent, "paid": paid, "paid_rub": int(paid_rub),
            "conversion": round(paid / sent, 3) if sent else 0.0,
            "paid_after_dialog_rub": int(from_dialog), "awaiting_access": waiting,
            "by_offer": by_offer}
