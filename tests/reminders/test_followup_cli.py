"""Tests of `followup resolve` (JSON lines in, JSON lines out)."""
from __future__ import annotations

import json

from click.testing import CliRunner

from app.reminders.followup_cli import followup

GOOD = {"text": "Напишите мне через неделю", "now": "2026-11-25T14:30:00+03:00",
        "tz": "Europe/Moscow"}


def _run(lines: list[str]):
    runner = CliRunner()
    result = runner.invoke(followup, ["resolve"], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    return result, [json.loads(line) for line in result.stdout.splitlines()]


def test_good_lines():
    lines = [json.dumps(GOOD, ensure_ascii=False),
             json.dumps({"text": "через час", "now": "2027-01-30T11:05:00+02:00",
                         "tz": "Europe/Kaliningrad"}),
             json.dumps({"text": "спасибо, я подумаю", "now": "2026-11-25T14:30:00+03:00"})]
    _, out = _run(lines)
    assert out == [{"due_at": "2026-12-02T12:00:00+03:00"},
                   {"due_at": "2027-01-30T12:05:00+02:00"},
                   {"due_at": None}]


def test_tz_defaults_to_moscow_and_extra_keys_are_ignored():
    line = json.dumps({"text": "завтра", "now": "2026-11-25T22:30:00+00:00", "due_at": "x",
                       "id": 7, "tz": None})
    _, out = _run([line])
    assert out == [{"due_at": "2026-11-27T12:00:00+03:00"}]


def test_blank_lines_are_skipped():
    _, out = _run(["", json.dumps(GOOD), "   ", "", json.dumps(GOOD)])
    assert out == [{"due_at": "2026-12-02T12:00:00+03:00"}] * 2


def test_bad_lines_report_errors_and_keep_going():
    lines = ["{not json", json.dumps({"text": "завтра", "now": "yesterday"}),
             json.dumps({"text": "завтра", "now": "2026-11-25T14:30:00+03:00", "tz": "Nowhere/City"}),
             json.dumps([1, 2]), json.dumps({"now": "2026-11-25T14:30:00+03:00"}),
             json.dumps(GOOD)]
    result, out = _run(lines)
    assert [o["due_at"] for o in out] == [None] * 5 + ["2026-12-02T12:00:00+03:00"]
    assert all(o.get("error") for o in out[:5]) and "error" not in out[5]
    assert "time zone" in out[2]["error"]
    assert len(result.stderr.strip().splitlines()) == 5


def test_now_without_offset_is_wall_clock_time_in_the_zone():
    line = json.dumps({"text": "завтра", "now": "2026-11-25T14:30:00", "tz": "Asia/Yekaterinburg"})
    _, out = _run([line])
    assert out == [{"due_at": "2026-11-26T12:00:00+05:00"}]


def test_output_keeps_non_ascii():
    line = json.dumps({"text": "в 2026 году", "now": "bad ё"}, ensure_ascii=False)
    result, out = _run([line])
    assert "ё" in result.stdout and out[0]["due_at"] is None


def test_a_file_saved_with_a_bom_and_windows_line_ends():
    """`flask followup resolve < cases.jsonl` where an editor put a BOM before the first line."""
    _, out = _run(["\ufeff" + json.dumps(GOOD, ensure_ascii=False) + "\r",
                   json.dumps({**GOOD, "text": "через час"}, ensure_ascii=False) + "\r"])
    assert out == [{"due_at": "2026-12-02T12:00:00+03:00"},
                   {"due_at": "2026-11-25T15:30:00+03:00"}]
