"""Reminders: planned, sent, skipped (why), refused by VK, and who wrote back within 48 h."""
from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.models import ReminderStatus
from app.reports.period import Period

ANSWER_HOURS = 48

# A reminder belongs to the period when it was agreed, due or sent in it.
IN_PERIOD = "(r.agreed_at >= :since OR r.due_at >= :since OR r.sent_at >= :since)"

BY_STATUS = text(f"""
SELECT r.status, coalesce(nullif(r.status_reason, ''), '—'), count(*) FROM reminders r
WHERE {IN_PERIOD} GROUP BY 1, 2
""")

ANSWERED = text(f"""
SELECT count(*), count(DISTINCT r.client_id) FROM reminders r
JOIN dialogs d ON d.client_id = r.client_id
WHERE r.sent_at IS NOT NULL AND {IN_PERIOD}
  AND EXISTS (SELECT 1 FROM messages m WHERE m.dialog_id = d.id AND m.direction = 'in'
              AND m.created_at > r.sent_at
              AND m.created_at <= r.sent_at + make_interval(hours => {ANSWER_HOURS}))
""")

STATUSES = tuple(str(status) for status in ReminderStatus)  # every status, zeros included


def reminders(s: Session, period: Period) -> dict[str, Any]:
    counts = {status: 0 for status in STATUSES}
    reasons: dict[str, dict[str, int]] = {"skipped": {}, "refused": {}}
    for status, reason, n in s.execute(BY_STATUS, period.params):
        counts[status] = counts.get(status, 0) + int(n)
        if status in reasons:
            reasons[status][reason] = reasons[status].get(reason, 0) + int(n)
    answered, clients = s.execute(ANSWERED, period.params).one()
    return {"planned": sum(counts.values()), **counts,
            "skipped_reasons": _ranked(reasons["skipped"]),
            "refused_reasons": _ranked(reasons["refused"]),
            "answered_48h": int(answered), "clients_answered_48h": int(clients)}


def _ranked(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
