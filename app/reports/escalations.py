"""Escalations: alerts to the managers, why, and how long until a person answered."""
from __future__ import annotations

from statistics import median
from typing import Any, Optional

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.reports.period import Period

# A person's answer: the first outbound message not written by the bot (a staff reply in VK,
# stored by app/vk/inbox.py, or one sent from the panel) at or after the alert.
ALERTS = text("""
SELECT a.reason, a.created_at,
  (SELECT min(m.created_at) FROM dialogs d JOIN messages m ON m.dialog_id = d.id
   WHERE d.client_id = a.client_id AND m.direction = 'out' AND m.source <> 'bot'
     AND m.created_at >= a.created_at) AS answered_at
FROM manager_alerts a WHERE a.created_at >= :since
""")

OTHER = text("""
SELECT
  (SELECT count(*) FROM turns t WHERE t.started_at >= :since
     AND json_typeof(t.decisions) = 'object' AND t.decisions->>'escalated' = 'true'),
  (SELECT count(*) FROM dialogs d WHERE d.needs_human)
""")


def _minutes(values: list[float]) -> dict[str, Optional[float]]:
    if not values:
        return {"median": None, "avg": None, "max": None}
    return {"median": round(median(values), 1), "avg": round(sum(values) / len(values), 1),
            "max": round(max(values), 1)}


def escalations(s: Session, period: Period) -> dict[str, Any]:
    by_reason: dict[str, int] = {}
    waits: list[float] = []
    for reason, created_at, answered_at in s.execute(ALERTS, period.params):
        key = (reason or "").strip() or "—"
        by_reason[key] = by_reason.get(key, 0) + 1
        if answered_at is not None:
            waits.append((answered_at - created_at).total_seconds() / 60)
    turns, needs_human = s.execute(OTHER, period.params).one()
    count = sum(by_reason.values())
    return {"count": count,
            "by_reason": dict(sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))),
            "answered_by_person": len(waits), "unanswered": count - len(waits),
            "minutes_to_person": _minutes(waits),
            "escalated_turns": int(turns), "dialogs_needing_human_now": int(needs_human)}
