"""One row per client for the owner's spreadsheet (`report clients --csv`)."""
from __future__ import annotations

import csv
from typing import IO, Any, Iterator

from sqlalchemy import text
from sqlalchemy.orm import Session

COLUMNS = ("vk_id", "name", "stage", "first_message_at", "last_message_at", "purchases",
           "revenue_rub", "offers", "reminders", "escalations")

# Each count aggregated once per table and joined by client: one pass over every table.
CLIENT_ROWS = text("""
SELECT c.vk_id, btrim(c.first_name || ' ' || c.last_name), c.funnel_stage,
       msg.first_at, msg.last_at, coalesce(p.n, 0), coalesce(p.rub, 0), coalesce(o.n, 0),
       coalesce(r.n, 0), coalesce(a.n, 0)
FROM clients c
LEFT JOIN dialogs d ON d.client_id = c.id
LEFT JOIN (SELECT dialog_id, min(created_at) AS first_at, max(created_at) AS last_at
           FROM messages GROUP BY dialog_id) msg ON msg.dialog_id = d.id
LEFT JOIN (SELECT client_id, count(*) AS n, sum(amount_rub) AS rub FROM purchases
           GROUP BY client_id) p ON p.client_id = c.id
LEFT JOIN (SELECT client_id, count(*) AS n FROM issued_offers GROUP BY client_id) o
       ON o.client_id = c.id
LEFT JOIN (SELECT client_id, count(*) AS n FROM reminders GROUP BY client_id) r
       ON r.client_id = c.id
LEFT JOIN (SELECT client_id, count(*) AS n FROM manager_alerts GROUP BY client_id) a
       ON a.client_id = c.id
ORDER BY c.vk_id
""")


def client_rows(s: Session) -> Iterator[tuple[Any, ...]]:
    for row in s.execute(CLIENT_ROWS).yield_per(2000):
        vk_id, name, stage, first_at, last_at, *counts = row
        yield (vk_id, name or "", stage, first_at.isoformat() if first_at else "",
               last_at.isoformat() if last_at else "", *(int(n) for n in counts))


# a spreadsheet reads a cell starting with one of these as a formula (CSV injection)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """A text cell that would start a formula is prefixed with an apostrophe (shown as text);
    a bare carriage return becomes a newline (which the writer quotes: the row stays whole)."""
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_START):
        value = "'" + value
    return value.replace("\r\n", "\n").replace("\r", "\n")


def write_csv(s: Session, out: IO[str]) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    n = 0
    for row in client_rows(s):
        writer.writerow([safe_cell(v) for v in row])
        n += 1
    return n
