"""Questions the knowledge base could not answer, similar ones grouped: the owner's KB to-do.

A reply turn is a gap when (1) the analysis named no KB entry for a question, (2) the offline
brain flagged `kb_no_match`, or (3) the reply promised to ask colleagues (or to check with
the manager, the team, a teacher). The client's words of the turn are grouped by lemmas
(see `grouping.py`), most frequent first.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.reports.grouping import Question, group_questions
from app.reports.period import Period

MAX_GROUPS = 50
# "I'll check with the manager / the team / the teacher" without the word "colleagues"
ASK_STAFF = (r"(уточн|спрош|узна|выясн)[а-яё]*\s+у\s+"
             r"(команд|специалист|менеджер|преподавател|администратор|школ)")
MAX_GAP_TURNS = 5000  # the newest; enough for a to-do list, bounded for a huge period

# Client text of a turn: its inbound messages after the previous reply turn's. The messages
# are found through their dialog (`m.id + 0` keeps the planner off the primary-key range,
# which spans every other dialog's messages of that time).
GAP_TURNS = text(r"""
WITH cand AS MATERIALIZED (
  SELECT t.id, t.dialog_id, t.started_at, t.upto_message_id,
    t.flags @> '["kb_no_match"]'::jsonb AS no_match,
    coalesce((strpos(lower(t.reply_text), 'коллег') > 0
              AND t.reply_text ~* '(уточн|спрош|спрашива|узна|переда|выясн|посовету)')
             OR t.reply_text ~* :ask_staff, false) AS colleagues,
    coalesce(json_typeof(t.analysis) = 'object' AND json_typeof(t.analysis->'kb_ids') = 'array'
             AND json_array_length(t.analysis->'kb_ids') = 0, false) AS no_kb,
    coalesce(t.analysis->>'intent', '') AS intent
  FROM turns t
  WHERE t.kind = 'reply' AND t.started_at >= :since
), gap AS MATERIALIZED (
  SELECT * FROM cand WHERE no_match OR colleagues OR no_kb
), prev AS (  -- the upto of the dialog's previous reply turn, over the dialogs with a gap
  SELECT t.id, lag(t.upto_message_id, 1, 0::bigint)
                 OVER (PARTITION BY t.dialog_id ORDER BY t.upto_message_id, t.id) AS prev_upto
  FROM turns t WHERE t.kind = 'reply' AND t.dialog_id IN (SELECT dialog_id FROM gap)
), texts AS (
  SELECT g.id, string_agg(m.text, E'\n' ORDER BY m.id) AS client_text
  FROM gap g JOIN prev p ON p.id = g.id
  JOIN messages m ON m.dialog_id = g.dialog_id AND m.direction = 'in'
    AND m.id + 0 > p.prev_upto AND m.id + 0 <= g.upto_message_id
  GROUP BY g.id
)
SELECT g.id, g.dialog_id, g.started_at, x.client_text FROM gap g JOIN texts x ON x.id = g.id
WHERE btrim(x.client_text) <> ''
  AND (g.no_match OR g.colleagues
       OR (g.no_kb AND (x.client_text LIKE '%?%' OR g.intent ~* '(вопрос|спраш|узнат|уточн)')))
ORDER BY g.started_at DESC, g.id DESC LIMIT :limit
""")


def kb_gaps(s: Session, period: Period) -> list[dict[str, Any]]:
    params = dict(period.params, limit=MAX_GAP_TURNS, ask_staff=ASK_STAFF)
    rows = s.execute(GAP_TURNS, params).all()
    questions = [Question(turn_id=tid, dialog_id=did, at=at, text=body)
                 for tid, did, at, body in rows]
    groups = group_questions(questions)[:MAX_GROUPS]
    return [{"question": g.title, "examples": g.examples, "count": g.count,
             "last_at": g.last_at.isoformat(), "dialog_ids": g.dialog_ids,
             "turn_ids": g.turn_ids[:20]} for g in groups]
