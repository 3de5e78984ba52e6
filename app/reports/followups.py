"""Follow-ups after a silence: how many were sent, how many clients wrote back within 24 h, and
how many became clients (a first purchase after the follow-up, within the attribution window)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.reports.period import Period

REPLY_HOURS = 24

FOLLOWUPS = text(f"""
WITH f AS (
  SELECT r.id, r.client_id, r.sent_at FROM reminders r
  WHERE r.kind = 'reengage' AND r.sent_at IS NOT NULL AND r.sent_at >= :since
)
SELECT
  count(*),
  count(*) FILTER (WHERE EXISTS (
    SELECT 1 FROM dialogs d JOIN messages m ON m.dialog_id = d.id
    WHERE d.client_id = f.client_id AND m.direction = 'in' AND m.created_at > f.sent_at
      AND m.created_at <= f.sent_at + make_interval(hours => {REPLY_HOURS}))),
  count(DISTINCT f.client_id) FILTER (WHERE EXISTS (
    SELECT 1 FROM purchases p WHERE p.client_id = f.client_id AND p.paid_at > f.sent_at
      AND p.paid_at <= f.sent_at + make_interval(days => :window_days))
    AND NOT EXISTS (
    SELECT 1 FROM purchases p WHERE p.client_id = f.client_id AND p.paid_at <= f.sent_at))
FROM f
""")


def followups(s: Session, period: Period) -> dict[str, Any]:
    sent, replied, became = s.execute(FOLLOWUPS, period.params).one()
    return {"sent": int(sent), "replied_within_24h": int(replied),
            "became_clients": int(became)}
