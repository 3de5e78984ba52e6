"""Funnel: who wrote in the period, the stage each is at now, and who became a client."""
from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.models import FUNNEL_STAGES
from app.reports.period import Period

# Clients with at least one message of their own in the period, by their current stage.
ACTIVE_BY_STAGE = text("""
SELECT c.funnel_stage, count(*) FROM clients c
WHERE EXISTS (SELECT 1 FROM dialogs d JOIN messages m ON m.dialog_id = d.id
              WHERE d.client_id = c.id AND m.direction = 'in' AND m.created_at >= :since)
GROUP BY c.funnel_stage
""")

# Of those clients: first purchase ever paid in the period, with a message of theirs to the
# assistant before it (within the attribution window).
BECAME_CLIENTS = text("""
WITH firsts AS (
  SELECT p.client_id, min(p.paid_at) AS first_paid FROM purchases p GROUP BY p.client_id
)
SELECT count(*) FROM firsts f JOIN dialogs d ON d.client_id = f.client_id
WHERE f.first_paid >= :since
  AND EXISTS (SELECT 1 FROM messages m WHERE m.dialog_id = d.id AND m.direction = 'in'
              AND m.created_at >= :since)
  AND EXISTS (SELECT 1 FROM messages m WHERE m.dialog_id = d.id AND m.direction = 'in'
              AND m.created_at < f.first_paid
              AND m.created_at >= f.first_paid - make_interval(days => :window_days))
""")

TRANSITIONS = text("""
SELECT ch.old_value, ch.new_value, count(*) AS n FROM client_changes ch
WHERE ch.field = 'funnel_stage' AND ch.created_at >= :since
GROUP BY ch.old_value, ch.new_value ORDER BY n DESC, ch.old_value, ch.new_value
""")


def funnel(s: Session, period: Period) -> dict[str, Any]:
    by_stage = {stage: 0 for stage in FUNNEL_STAGES}
    for stage, n in s.execute(ACTIVE_BY_STAGE, period.params):
        by_stage[stage or "cold"] = by_stage.get(stage or "cold", 0) + int(n)
    became = s.execute(BECAME_CLIENTS, period.params).scalar_one()
    transitions = [{"from": old, "to": new, "count": int(n)}
                   for old, new, n in s.execute(TRANSITIONS, period.params)]
    return {"clients_in_dialogs": sum(by_stage.values()), "by_stage": by_stage,
            "became_clients": int(became or 0), "transitions": transitions}
