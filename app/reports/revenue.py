"""Revenue: every purchase paid in the period, and those that followed a dialog."""
from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.reports.period import Period

# "After a dialog": the buyer wrote to the assistant before paying, at most `window_days`
# before the payment (the attribution window, REPORT_ATTRIBUTION_DAYS). One pass: the client's
# messages and purchases in time order, each purchase seeing the latest message before it
# (a message at the very moment of the payment counts as before it).
REVENUE = text("""
WITH ev AS (
  SELECT d.client_id, m.created_at AS at, 0 AS is_purchase, 0 AS amount
  FROM messages m JOIN dialogs d ON d.id = m.dialog_id
  WHERE m.direction = 'in' AND m.created_at >= :since - make_interval(days => :window_days)
  UNION ALL
  SELECT p.client_id, p.paid_at, 1, p.amount_rub FROM purchases p WHERE p.paid_at >= :since
), marked AS (
  SELECT is_purchase, amount, at,
    max(at) FILTER (WHERE is_purchase = 0) OVER (
      PARTITION BY client_id ORDER BY at, is_purchase ROWS UNBOUNDED PRECEDING) AS last_msg
  FROM ev
), bought AS (
  SELECT amount, last_msg IS NOT NULL
                 AND last_msg >= at - make_interval(days => :window_days) AS after
  FROM marked WHERE is_purchase = 1
)
SELECT coalesce(sum(amount), 0), count(*), coalesce(sum(amount) FILTER (WHERE after), 0),
       count(*) FILTER (WHERE after)
FROM bought
""")


def revenue(s: Session, period: Period) -> dict[str, Any]:
    total, orders, after, orders_after = s.execute(REVENUE, period.params).one()
    return {"total_rub": int(total), "after_dialog_rub": int(after), "orders": int(orders),
            "orders_after_dialog": int(orders_after),
            "attribution_days": period.attribution_days}
