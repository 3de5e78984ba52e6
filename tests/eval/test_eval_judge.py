"""The judge against the Gemini stand-in: `flask eval judge-check` on the labelled set, and
`flask eval run --repeat N` reporting verdict flips."""
from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Iterator

import pytest

from app.eval.judge_check import LabelsError, load_labels
from tests.fakes.gemini_server import (
    FakeGeminiServer,
    RecordedRequest,
    is_judge_request,
    json_response,
    judge_response,
    text_response,
)

ROOT = Path(__file__).resolve().parents[2]
LABELS = ROOT / "eval" / "judge_labels.jsonl"


@pytest.fixture()
def gemini() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer() as server:
        yield server


def test_labelled_set_is_valid_and_balanced() -> None:
    dialogs = load_labels(LABELS)
    points = [p for d in dialogs for p in d.points]
    assert (len(dialogs), len(points)) == (15, 29)
    assert sum(p.label == "fail" for p in points) == 7
    assert {p.kind for p in points} == {"must", "must_not"}
    assert any(r == "program" for d in dialogs for r, _ in d.transcript)


def test_bad_labels_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "l.jsonl"
    bad.write_text(json.dumps({"id": "x", "transcript": [{"role": "client", "text": "a"}],
                               "points": [{"kind": "must", "text": "t", "label": "ok"}]}) + "\n")
    with pytest.raises(LabelsError, match=r"l.jsonl:1 \(x\).points\[0\]"):
        load_labels(bad)


def test_judge_check_prints_agreement(make_app, gemini) -> None:  # noqa: ANN001
    # the stand-in fails exactly the points whose dialog shows a violation it can see by words
    def decide(kind: str, point: str, transcript: str) -> tuple[str, str]:
        if kind == "must_not" and "пообещал скидку" in point and "отказано" in transcript:
            return "fail", "программа отказала"
        return "pass", "ок"

    gemini.set_responder(lambda req: judge_response(req, decide))
    app = make_app(gemini_api_key="k", gemini_base_url=gemini.base_url, gemini_timeout_s=5)
    result = app.test_cli_runner().invoke(args=["eval", "judge-check", str(LABELS)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    # 22 labelled pass agree, 1 of 7 labelled fail caught
    assert lines[0] == ("judge gemini-3.1-pro-preview on 15 labelled dialogs: agreement "
                        "23/29 (79%)")
    assert "labelled fail caught 1/7 · labelled pass kept 22/22 · not judged 0" in lines[1]
    assert sum(line.startswith("  ✗ ") for line in lines) == 6
    reqs = [r for r in gemini.requests if is_judge_request(r)]
    assert len(reqs) == 15 and all(r.model == "gemini-3.1-pro-preview" for r in reqs)
    # the whole KB and the program's decisions go to the judge
    one = next(r for r in reqs if "PIANO-7QX2" in r.contents_text)
    assert "[metronome-materials]" in one.contents_text and "[piano-mastery]" in one.contents_text
    assert "Программа (решения этого хода; клиент их не видит): скидка выдана" in one.contents_text
    as_json = json.loads(app.test_cli_runner().invoke(
        args=["eval", "judge-check", str(LABELS), "--json"]).output)
    assert as_json["all"] == {"points": 29, "judged": 29, "agree": 23, "agreement": 0.7931}


def test_judge_check_needs_a_key(app) -> None:  # noqa: ANN001
    result = app.test_cli_runner().invoke(args=["eval", "judge-check", str(LABELS)])
    assert result.exit_code == 2 and "GEMINI_API_KEY" in result.output


ANALYSIS = {"psych_state": "спокойна", "funnel_stage": "warm", "intent": "цена",
            "short_term_strategy": "ответить", "long_term_strategy": "помочь",
            "facts": {}, "follow_up": {"agreed": False}, "kb_ids": [], "offer": None,
            "escalate": {"needed": False, "reason": ""}, "reply_plan": "коротко"}


def test_repeat_reports_how_often_verdicts_flip(make_app, gemini, tmp_path) -> None:  # noqa: ANN001
    calls = itertools.count()

    def decide(kind: str, point: str, transcript: str) -> tuple[str, str]:
        if "дружелюбно" in point:  # this point flips on every other call
            return ("pass" if next(calls) % 2 == 0 else "fail"), "спорно"
        return "pass", "ок"

    def responder(req: RecordedRequest) -> tuple[int, dict]:
        if is_judge_request(req):
            return judge_response(req, decide)
        if req.generation_config.get("responseJsonSchema"):
            return json_response(ANALYSIS)
        return text_response("Курс «Фортепиано с нуля» стоит 14 900 ₽.")

    gemini.set_responder(responder)
    scenarios = tmp_path / "s.jsonl"
    scenarios.write_text(json.dumps({
        "id": "price", "persona": "новичок", "turns": ["Сколько стоит курс?"],
        "must": ["назвал цену", "ответил дружелюбно"], "must_not": ["выдумал цену"]},
        ensure_ascii=False) + "\n", encoding="utf-8")
    app = make_app(gemini_api_key="k", gemini_base_url=gemini.base_url, gemini_timeout_s=5,
                   eval_runs_dir=str(tmp_path / "runs"))
    out = tmp_path / "run"
    result = app.test_cli_runner().invoke(
        args=["eval", "run", str(scenarios), "--out", str(out), "--repeat", "3"])
    assert result.exit_code == 0, result.output
    assert "judge repeated 3×: verdicts flipped on 1 of 3 points (33%)" in result.output
    r = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert r["summary"]["judge_stability"] == {"repeat": 3, "points": 3, "flipped": 1,
                                               "flip_rate": 0.3333}
    friendly = r["scenarios"][0]["points"][1]
    assert friendly["verdicts_seen"] == ["pass", "fail", "pass"] and friendly["flipped"]
    assert friendly["verdict"] == "pass"  # the first call's verdict stands
    assert r["judge"]["repeat"] == 3
    assert len([q for q in gemini.requests if is_judge_request(q)]) == 3
    assert "менялся: pass, fail, pass" in (out / "report.md").read_text(encoding="utf-8")




def test_scenario_card_attachments_and_gap_hours(make_app, gemini, tmp_path) -> None:  # noqa: ANN001
    media = tmp_path / "media"
    media.mkdir()
    (media / "q.ogg").write_bytes(b"OggS-voice-note")
    (media / "keys.jpg").write_bytes(b"\xff\xd8\xff-photo")

    def responder(req: RecordedRequest) -> tuple[int, dict]:
        if req.generation_config.get("responseJsonSchema"):
            return json_response(ANALYSIS)
        return text_response("Продление стоит 2 900 ₽ на 180 дней.")

    gemini.set_responder(responder)
    scenarios = tmp_path / "s.jsonl"
    scenarios.write_text(json.dumps({
        "id": "returning", "persona": "ученица, доступ кончается",
        "card": {"name": "Анна Смирнова",
                 "purchases": [{"product": "piano-from-zero", "access_until": "2026-11-30"}]},
        "turns": [{"text": "", "attachments": [
                      {"type": "voice", "file": "media/q.ogg", "seconds": 6}]},
                  {"text": "вот мой инструмент", "gap_hours": 168,
                   "attachments": [{"type": "photo", "file": "media/keys.jpg"}]}]},
        ensure_ascii=False) + "\n", encoding="utf-8")
    app = make_app(gemini_api_key="k", gemini_base_url=gemini.base_url, gemini_timeout_s=5,
                   eval_runs_dir=str(tmp_path / "runs"))
    out = tmp_path / "run"
    result = app.test_cli_runner().invoke(
        args=["eval", "run", str(scenarios), "--out", str(out), "--no-judge"])
    assert result.exit_code == 0, result.output
    analyses = [q for q in gemini.requests if q.generation_config.get("responseJsonSchema")]
    assert len(analyses) == 2
    first, second = analyses
    assert "Имя: Анна Смирнова" in first.contents_text
    # access_until 2026-11-30 for a 365-day course: paid a year before
    assert ("Покупка: «Фортепиано с нуля» (piano-from-zero), оплачено 30 ноября 2025, "
            "доступ до 30 ноября 2026") in first.contents_text
    assert first.inline_parts == [("audio/ogg", b"OggS-voice-note")]
    assert second.inline_parts == [("image/jpeg", b"\xff\xd8\xff-photo")]
    # the lab starts Wednesday 25.11 12:00 Moscow; the second turn comes a week later
    assert "сейчас у клиента среда, 25 ноября 2026, 12:00" in first.contents_text
    assert "сейчас у клиента среда, 2 декабря 2026, 12:" in second.contents_text
    r = json.loads((out / "results.json").read_text(encoding="utf-8"))
    client_lines = [m["text"] for m in r["scenarios"][0]["transcript"] if m["role"] == "client"]
    assert client_lines == ["[голосовое сообщение 0:06]",
                            "вот мой инструмент [фото]"]
