"""What a turn stores as JSON (analysis, decisions) reads back as data, not as Python reprs."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from app.brain.contract import Decisions
from app.turns.storing import jsonable


def test_decisions_sets_are_stored_as_sorted_lists() -> None:
    due = datetime(2026, 12, 4, 16, 0, tzinfo=timezone.utc)
    stored = jsonable(Decisions(allowed_codes={"PIANO-B2", "PIANO-A1"}, allowed_percents={15, 10},
                                reminder_due_at=due))
    assert stored["allowed_codes"] == ["PIANO-A1", "PIANO-B2"]  # not the string "{'…'}"
    assert stored["allowed_percents"] == [10, 15]
    assert stored["reminder_due_at"] == due.isoformat(sep=" ")  # str() as before
    empty = jsonable(Decisions())
    assert empty["allowed_codes"] == [] and empty["allowed_percents"] == []  # not "set()"
    assert json.loads(json.dumps(stored)) == stored


def test_plain_values_and_none_pass_through() -> None:
    assert jsonable(None) is None
    assert jsonable({"a": [1, "б"], "b": None}) == {"a": [1, "б"], "b": None}
