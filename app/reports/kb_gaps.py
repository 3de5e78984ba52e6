"""Questions the knowledge base could not answer, similar ones grouped: the owner's KB to-do.

A reply turn is a gap when (1) the analysis named no KB entry for a question, (2) the offline
brain flagged `kb_no_match`, or (3) the reply promised to ask colleagues. The client's words of
the turn are grouped by lemmas (see `grouping.py`), most frequent first.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.reports.grouping import Question, group_questions
from app.reports.period import Period

MAX_GROUPS = 50
MAX_GAP_TURNS = 5000  # the newest; enough for a to-do list, bounded for a huge period

# Client text of a turn: its inbound messages after the previous reply turn's.
GAP_TURNS = text(r"""
WITH cand AS (
  SELECT t.id, t.dialog_id, t.started_at, t.upto_message_id,
    coalesce(t.flags::jsonb ? 'kb_no_match', false) AS no_match,
    coalesce(t.reply_text ~* 'коллег' AND t.reply_text ~* '(уточн|спрош|спрашива|узна|переда|выясн|посовету)',
             false) AS colleagues,
    (json_typeof(t.analysis) = 'object' AND json_typeof(t.analysis->'kb_ids') = 'array'
     AND json_array_length(t.analysis->'kb_ids') = 0) AS no_kb,
    coalesce(t.analysis->>'intent', '') AS intent
  FROM turns t
  WHERE t.kind = 'reply' AND t.started_at >= :since AND json_typeof(t.flags) = 'array'
), withtext AS (
  SELECT c.*, (
    SELECT string_agg(m.text, E'\n' ORDER BY m.id) FROM messages m
    WHERE m.dialog_id = c.dialog_id AND m.direction = 'in' AND m.id <= c.upto_message_id
      AND m.id > coalesce((SELECT max(p.upto_message_id) FROM turns p
                           WHERE p.dialog_id = c.dialog_id AND p.kind = 'reply'
                             AND p.upto_message_id < c.upto_message_id), 0)) AS client_text
  FROM cand c WHERE c.no_match OR c.colleagues OR c.no_kb
)
SELECT id, dialog_id, started_at, client_text FROM withtext
WHERE client_text IS NOT NULL AND btrim(client_text) <> ''
  AND (no_match OR colleagues
       OR (no_kb AND (client_text LIKE '%?%' OR intent ~* '(вопрос|спраш|узнат|уточн)')))
ORDER BY started_at DESC, id DESC LIMIT :limit
""")


def kb_gaps(s: Session, period: Period) -> list[dict[str, Any]]:
    rows = s.execute(GAP_TURNS, dict(period.params, limit=MAX_GAP_TURNS)).all()
    questions = [Question(turn_id=tid, dialog_id=did, at=at, text=body)
                 for tid, did, at, body in rows]
    groups = group_questions(questions)[:MAX_GROUPS]
    return [{"question": g.title, "examples": g.examples, "count": g.count,
             "last_at": g.last_at.isoformat(), "dialog_ids": g.dialog_ids,
             "turn_ids": g.turn_ids[:20]} for g in groups]
