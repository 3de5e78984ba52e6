"""Table tests for the Russian follow-up time resolver."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from app.reminders.resolver import resolve, resolve_iso

PUBLIC = Path(__file__).resolve().parents[2].parent / "shared" / "eval" / "followup_time_public.jsonl"
OWN = Path(__file__).resolve().parents[1] / "data" / "followup_cases.jsonl"


def _load(path: Path) -> list:
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [pytest.param(r, id=f"{n + 1}:{r['text'][:40]}@{r['now']}") for n, r in enumerate(rows)]


def _check(case: dict) -> None:
    got = resolve_iso(case["text"], case["now"], case.get("tz") or "Europe/Moscow")
    assert got == case["due_at"], f"{case['text']!r} at {case['now']} ({case.get('tz')})"


@pytest.mark.skipif(not PUBLIC.exists(), reason="public examples are not available")
@pytest.mark.parametrize("case", _load(PUBLIC) or [None])
def test_public_examples(case):
    _check(case)


@pytest.mark.parametrize("case", _load(OWN))
def test_own_cases(case):
    _check(case)


def test_own_cases_are_many():
    assert len(_load(OWN)) >= 170


def test_result_is_aware_in_client_zone_with_zero_seconds():
    now = datetime.fromisoformat("2026-11-25T11:30:59.123456+00:00")
    got = resolve("через час", now, "Asia/Yekaterinburg")
    assert got.isoformat() == "2026-11-25T17:30:00+05:00"
    assert got.tzinfo.key == "Asia/Yekaterinburg"
    assert (got.second, got.microsecond) == (0, 0)


def test_default_zone_is_moscow():
    now = datetime.fromisoformat("2026-11-25T14:30:00+03:00")
    assert resolve("завтра", now).isoformat() == "2026-11-26T12:00:00+03:00"


def test_unknown_zone_raises_value_error():
    now = datetime.fromisoformat("2026-11-25T14:30:00+03:00")
    with pytest.raises(ValueError, match="time zone"):
        resolve("завтра", now, "Mars/Olympus")


@pytest.mark.parametrize("text", ["", "   ", "!!!", "12345", "в 2026 году"])
def test_no_expression_gives_none(text):
    assert resolve_iso(text, "2026-11-25T14:30:00+03:00", "Europe/Moscow") is None
