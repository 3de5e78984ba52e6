"""The eval lab's pure parts: scenario files, hard-check counting on hand-made transcripts,
the judge's answer, results and compare."""
from __future__ import annotations

import json

import pytest

from app.brain.errors import LlmInvalidOutput
from app.brain.gemini.judge import (
    JUDGE_SCHEMA,
    JudgeRequest,
    Point,
    build_judge_content,
    parse_verdicts,
    verdict_of,
)
from app.eval.checks import contains, run_checks
from app.eval.compare import compare
from app.eval.judging import evidence_found, not_judged
from app.eval.results import build_results
from app.eval.runner import DialogRun
from app.eval.scenarios import Checks, ScenarioError, parse_lines, parse_scenario

LINE = {"id": "parent-child-7", "persona": "мама девочки 7 лет",
        "turns": ["Здравствуйте", "сколько стоит\nдетский курс"], "must": ["назвал цену"],
        "must_not": ["давил"], "checks": {"contains_any": [["12 900", "12900"], ["детск"]],
                                          "not_contains": ["только сегодня"]}}


def run_of(scenario_obj: dict, transcript: list[tuple[str, str]]) -> DialogRun:
    run = DialogRun(scenario=parse_scenario(scenario_obj), peer_id=1)
    run.transcript = [{"role": r, "text": t} for r, t in transcript]
    return run


def test_hard_checks_count_groups_plus_one_for_not_contains() -> None:
    checks = parse_scenario(LINE).checks
    good = run_checks(checks, ["Детский курс стоит 12 900 ₽.", "Пишите!"])
    assert good.as_dict() == {"passed": 3, "total": 3, "failed": []}
    bad = run_checks(checks, ["Курс стоит 112 900 ₽", "Только СЕГОДНЯ!"])
    assert (bad.passed, bad.total) == (0, 3)
    assert len(bad.failed) == 3 and any("только сегодня" in f for f in bad.failed)
    no_absent = Checks(contains_any=(("а",), ("б",)))
    assert run_checks(no_absent, ["а"]).as_dict() == {"passed": 1, "total": 2,
                                                      "failed": ["contains_any: «б»"]}
    assert run_checks(Checks(not_contains=()), ["что угодно"]).as_dict()["total"] == 1
    assert run_checks(Checks(), ["что угодно"]).as_dict() == {"passed": 0, "total": 0,
                                                              "failed": []}


@pytest.mark.parametrize("text,needle,found", [
    ("стоит 29 900 ₽", "9 900", False),
    ("стоит 9 900 ₽", "9 900", True),
    ("цена: 14 900 ₽ за год", "14 900", True),
    ("цена 14900", "14 900", False),
    ("подписка 1 490 ₽ в месяц", "490", False),
    ("за 1 490 ₽", "1 490", True),
    ("продление (2 900 ₽) на 180 дней", "180", True),
    ("14 900 000 рублей", "14 900", False),
    ("в 2026 году 14 900", "14 900", True),
    ("14\u00a0900 ₽", "14 900", True),
    ("Можно в РАССРОЧКУ", "рассрочк", True),
    ("скидка 110%", "10%", True),  # not a number of digits and spaces: a plain substring
])
def test_a_number_matches_only_as_a_whole_number(text: str, needle: str, found: bool) -> None:
    assert contains(text, needle) is found


def test_checks_read_only_the_assistant_and_points_are_not_judged_without_a_judge() -> None:
    run = run_of(LINE, [("client", "у вас только сегодня скидка? 12 900?"),
                        ("assistant", "Здравствуйте! Чем помочь?")])
    results = build_results({"prompt_version": "x", "brain": "offline", "kb_version": "1"},
                            [run], [not_judged(run)], 1.0)
    sc = results["scenarios"][0]
    assert sc["checks"] == {"passed": 1, "total": 3, "failed": [
        "contains_any: «12 900» | «12900»", "contains_any: «детск»"]}
    assert [p["verdict"] for p in sc["points"]] == ["not_judged", "not_judged"]
    assert [p["kind"] for p in sc["points"]] == ["must", "must_not"]
    assert results["summary"]["checks"] == {"passed": 1, "total": 3}
    assert results["summary"]["points"] == {"pass": 0, "fail": 0, "not_judged": 2}


def test_scenario_lines_are_validated_with_their_line_number() -> None:
    ok = parse_lines(json.dumps(LINE, ensure_ascii=False) + "\n\n")
    assert ok[0].bursts() == [["Здравствуйте"], ["сколько стоит", "детский курс"]]
    bad = [("{not json", "s:1: not valid JSON"),
           (json.dumps({"turns": ["a"]}), "'id'"),
           (json.dumps({"id": "a", "turns": []}), "turns"),
           (json.dumps({"id": "a", "turns": ["x"], "mustnot": []}), "did you mean 'must_not'"),
           (json.dumps({"id": "a", "turns": ["x"], "checks": {"contain_any": [["1"]]}}),
            "did you mean 'contains_any'"),
           (json.dumps({"id": "a", "turns": ["x"], "checks": {"contains_any": [[]]}}),
            "contains_any[0]")]
    for text, message in bad:
        with pytest.raises(ScenarioError, match=message.replace("[", r"\[")):
            parse_lines(text, source="s")
    extra = parse_lines(json.dumps({**LINE, "author_note": "из жалобы клиента"}))
    assert extra[0].id == LINE["id"]  # an extra key that is no misspelling is ignored
    with pytest.raises(ScenarioError, match="s:2: duplicate id"):
        parse_lines(json.dumps(LINE) + "\n" + json.dumps(LINE), source="s")


def test_judge_answer_gives_a_verdict_per_point() -> None:
    points = [Point("must", "назвал цену"), Point("must_not", "давил на клиента")]
    answer = json.dumps({"verdicts": [
        {"index": 2, "evidence": "только сегодня!", "reason": "давил", "answer": "yes"},
        {"index": 9, "evidence": "нет такого места", "reason": "нет такого", "answer": "no"}]})
    verdicts = parse_verdicts(answer, points)
    assert [v.verdict for v in verdicts] == ["not_judged", "fail"]  # a violation: yes → fail
    assert (verdicts[1].reason, verdicts[1].evidence) == ("давил", "только сегодня!")
    answer = json.dumps({"verdicts": [
        {"index": 1, "evidence": "14 900 ₽", "reason": "назвал", "answer": "yes"},
        {"index": 2, "evidence": "нет такого места", "reason": "не давил", "answer": "no"}]})
    assert [v.verdict for v in parse_verdicts(answer, points)] == ["pass", "pass"]
    assert [verdict_of(k, a) for k in ("must", "must_not") for a in ("yes", "no")] == [
        "pass", "fail", "fail", "pass"]
    with pytest.raises(LlmInvalidOutput):
        parse_verdicts("не JSON", points)


def test_judge_schema_asks_evidence_and_reason_before_the_answer() -> None:
    item = JUDGE_SCHEMA["properties"]["verdicts"]["items"]
    assert list(item["properties"]) == ["index", "evidence", "reason", "answer"]
    content = build_judge_content(JudgeRequest(
        persona="p", transcript=[("client", "сколько?"), ("assistant", "14 900 ₽"),
                                 ("program", "скидка выдана: 10% по промокоду AB12")],
        points=[Point("must", "назвал цену"), Point("must_not", "выдумал скидку")],
        kb_passages=["[a] Продукт"]))
    assert "1. [must] Сделал ли это ассистент: назвал цену" in content
    assert "2. [must_not] Было ли нарушение: выдумал скидку" in content
    assert "Программа (решения этого хода; клиент их не видит): скидка выдана" in content
    assert evidence_found("«14 900 ₽»", ["Курс стоит 14 900 ₽."])
    assert not evidence_found("стоит 9 900 ₽", ["Курс стоит 14 900 ₽."])
    assert evidence_found("нет такого места", [])


def _results(verdict: str, flags: list[str], tokens: int) -> dict:
    point = {"kind": "must", "text": "назвал цену", "verdict": verdict, "reason": "r-" + verdict}
    return {"prompt_version": f"p-{verdict}", "brain": "gemini:m", "kb_version": "1-k",
            "judge": {"model": "m", "prompt_version": "j"},
            "scenarios": [{"id": "d1", "transcript": [], "points": [point],
                           "checks": {"passed": 1, "total": 2, "failed": ["contains_any: «x»"]},
                           "turns": [{"analysis": {}, "flags": flags, "usage": {}}]}],
            "summary": {"checks": {"passed": 1, "total": 2},
                        "points": {"pass": int(verdict == "pass"), "fail": int(verdict == "fail"),
                                   "not_judged": 0},
                        "flags": {f: 1 for f in flags}, "tokens": {"total": tokens},
                        "judge_tokens": {"total": 5}}}


def test_compare_lists_point_flag_and_cost_changes() -> None:
    text = "\n".join(compare(_results("fail", ["guardrail:price"], 100),
                             _results("pass", [], 90), "a.json", "b.json"))
    assert "prompts p-fail" in text and "prompts p-pass" in text
    assert "[must] назвал цену: fail → pass — r-pass" in text
    assert "flag guardrail:price: 1 → 0 (-1)" in text
    assert "100 tokens" in text and "90 tokens" in text


def test_a_scenario_file_saved_with_a_bom_and_windows_line_ends_loads(tmp_path) -> None:  # noqa: ANN001
    from app.eval.scenarios import load_scenarios

    path = tmp_path / "notepad.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + (json.dumps(LINE, ensure_ascii=False) + "\r\n\r\n"
                                        + json.dumps({**LINE, "id": "two"}) + "\r\n").encode())
    loaded = load_scenarios(path)
    assert [s.id for s in loaded] == ["parent-child-7", "two"]
    assert loaded[0].bursts()[1] == ["сколько стоит", "детский курс"]


@pytest.mark.parametrize("broken, message", [
    ({"id": "a"}, "scenarios[0].checks"),
    ({"id": "a", "checks": {"passed": 1}}, "scenarios[0].checks"),
    ({"checks": {"passed": 0, "total": 0, "failed": []}}, "scenarios[0].id"),
    ({"id": "a", "checks": {"passed": 0, "total": 0}, "points": [{"kind": "must"}]},
     "scenarios[0].points[0]"),
    ("a", "scenarios[0]"),
])
def test_compare_refuses_a_results_file_of_another_shape_clearly(tmp_path, broken,  # noqa: ANN001
                                                                 message) -> None:
    """A hand-edited or foreign results.json is a clear error, not a traceback."""
    from app.eval.compare import load_results

    path = tmp_path / "results.json"
    path.write_text(json.dumps({"prompt_version": "p", "scenarios": [broken]}))
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        load_results(path)


def test_scenario_card_attachments_and_gap_are_validated(tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "v.ogg").write_bytes(b"x")
    good = {"id": "g", "card": {"name": "Анна", "purchases": [
                {"product": "piano-from-zero", "access_until": "2026-12-01"}]},
            "turns": ["привет", {"text": "", "gap_hours": 168, "attachments": [
                {"type": "voice", "file": "v.ogg", "seconds": 12}]}]}
    sc = parse_lines(json.dumps(good), base=tmp_path)[0]
    assert sc.card.name == "Анна" and str(sc.card.purchases[0].access_until) == "2026-12-01"
    assert sc.extra(0).attachments == () and sc.extra(1).gap_hours == 168.0
    assert sc.extra(1).attachments[0].path == tmp_path / "v.ogg"
    assert sc.bursts() == [["привет"], []]
    bad = [({**good, "card": {"name": "А", "purchases": [{"product": "x", "access_until": "1.12"}]}},
            r"card.purchases\[0\].access_until: expected a date"),
           ({**good, "turns": [{"text": "", "attachments": []}]}, r"turns\[0\]: needs text"),
           ({**good, "turns": [{"text": "a", "attachments": [{"type": "photo", "file": "v.ogg"}]}]},
            r"a photo is one of"),
           ({**good, "turns": [{"text": "a", "attachments": [{"type": "voice", "file": "no.ogg"}]}]},
            "does not exist"),
           ({**good, "turns": [{"text": "a", "gap_hours": -1}]}, "gap_hours"),
           ({**good, "turns": [{"text": "a", "gap_hour": 2}]}, "did you mean 'gap_hours'")]
    for obj, message in bad:
        with pytest.raises(ScenarioError, match=message):
            parse_lines(json.dumps(obj), source="s", base=tmp_path)
