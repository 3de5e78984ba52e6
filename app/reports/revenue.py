"""Revenue: every purchase paid in the period, and those that followed a dialog."""
from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.reports.period import Period

# "After a dialog": the buyer wrote to the assistant before paying, at most `window_days`
# before the payment (the attribution window, REPORT_ATTRIBUTION_DAYS).
REVENUE = text("""
SELECT coalesce(sum(p.amount_rub), 0), count(*),
       coalesce(sum(p.amount_rub) FILTER (WHERE a.after), 0), count(*) FILTER (WHERE a.after)
FROM purchases p
CROSS JOIN LATERAL (
  SELECT EXISTS (SELECT 1 FROM dialogs d JOIN messages m ON m.dialog_id = d.id
                 WHERE d.client_id = p.client_id AND m.direction = 'in'
                   AND m.created_at < p.paid_at
                   AND m.created_at >= p.paid_at - make_interval(days => :window_days)) AS after
) a
WHERE p.paid_at >= :since
""")

def revenue(s: Session, period: Period) -> dict[str, Any]:
    total, orders, after, orders_after = s.execute(REVENUE, period.params).one()
    return {"total_rub": int(total), "after_dialog_rub": int(after), "orders": int(orders),
            "orders_after_dialog": int(orders_after),
            "attribution_days": period.attribution_days}
