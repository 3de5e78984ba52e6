"""`flask eval run|compare` end to end: dialogs through the real pipeline (callback → turn →
brain → channel) on a throw-away database — offline, and with the fake Gemini as brain and
judge reading prompts from another directory."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import create_engine, select, text

from app.brain.prompts import PROMPT_VERSION, PROMPTS_DIR, PromptSet
from app.composition.factory import parts as services
from app.models import Client
from tests.fakes.gemini_server import (
    FakeGeminiServer,
    RecordedRequest,
    error_response,
    is_judge_request,
    json_response,
    judge_response,
    text_response,
)

pytestmark = pytest.mark.slow

SCENARIOS = [
    {"id": "burst", "persona": "пишет очередью коротких сообщений",
     "turns": ["привет\nсколько стоит\nкурс для начинающих"],
     "must": ["назвал цену 14 900 ₽"], "must_not": ["выдумал цену"],
     "checks": {"contains_any": [["14 900", "14900"]], "not_contains": ["только сегодня"]}},
    {"id": "two-turns", "persona": "взрослый новичок",
     "turns": ["Здравствуйте! Нужно ли настоящее пианино?", "А синтезатор на 61 клавишу?"],
     "must": ["ответил про инструмент"], "must_not": [], "checks": {"contains_any": [["клавиш"]]}},
    {"id": "no-points", "persona": "", "turns": ["Спасибо!"]},
]


def write_scenarios(path: Path) -> Path:
    path.write_text("\n".join(json.dumps(s, ensure_ascii=False) for s in SCENARIOS) + "\n",
                    encoding="utf-8")
    return path


@pytest.fixture()
def lab_app(make_app: Any, tmp_path: Path) -> Any:
    return make_app(eval_runs_dir=str(tmp_path / "runs"))


def eval_databases(pg: Any) -> list[str]:
    engine = create_engine(pg.admin_url)
    with engine.connect() as conn:
        names = conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE 'eval_%'"))
        out = [r[0] for r in names]
    engine.dispose()
    return out


def invoke(app: Any, *args: str) -> Any:
    result = app.test_cli_runner().invoke(args=list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_offline_run_plays_bursts_checks_and_leaves_no_trace(lab_app, pg, tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "offline"
    invoke(lab_app, "eval", "run", str(write_scenarios(tmp_path / "s.jsonl")), "--out", str(out),
           "-j", "2")
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert (results["prompt_version"], results["brain"]) == (PROMPT_VERSION, "offline")
    assert results["kb_version"] == services(lab_app).kb_store.current.version
    burst, two, none = results["scenarios"]
    assert [m["role"] for m in burst["transcript"]] == ["client"] * 3 + ["assistant"]
    assert len(burst["turns"]) == 1 and burst["turns"][0]["status"] == "done"
    assert set(burst["turns"][0]) >= {"analysis", "flags", "usage"}
    assert [m["role"] for m in two["transcript"]] == ["client", "assistant"] * 2
    assert burst["checks"]["total"] == 2 and two["checks"]["total"] == 1
    assert all(p["verdict"] == "not_judged" for s in results["scenarios"] for p in s["points"])
    assert none["points"] == [] and none["checks"] == {"passed": 0, "total": 0, "failed": []}
    assert results["summary"]["dialogs"] == 3 and results["summary"]["replies"] >= 4
    report = (out / "report.md").read_text(encoding="utf-8")
    assert report.index("| Диалог |") < report.index("## burst") and "not_judged" in report
    with services(lab_app).db.session() as s:  # the app's own database saw nothing
        assert s.execute(select(Client)).first() is None
    assert eval_databases(pg) == []  # made beside the test database, dropped after


def analysis_json(**over: Any) -> dict:
    base = {"psych_state": "интересуется", "mood": "позитивное", "funnel_stage": "warm",
            "intent": "узнать цену", "short_term_strategy": "ответить",
            "long_term_strategy": "помочь выбрать", "facts": {}, "follow_up": {"agreed": False},
            "kb_ids": ["course-prices"], "offer": None,
            "escalate": {"needed": False, "reason": ""}, "reply_plan": "коротко"}
    return {**base, **over}


class LabModel:
    """The fake Gemini as the turn's two stages and as the judge."""

    def __init__(self, fail_point: str = "") -> None:
        self.fail_point = fail_point

    def decide(self, kind: str, point: str, transcript: str) -> tuple[str, str]:
        if self.fail_point and self.fail_point in point:
            return "fail", "цена не названа"
        return "pass", "сделано: " + point

    def __call__(self, req: RecordedRequest) -> tuple[int, dict]:
        if is_judge_request(req):
            if self.fail_point and "взрослый новичок" in req.contents_text:
                return error_response(400, "judge refused")  # not retried: not_judged
            return judge_response(req, self.decide, prompt_tokens=300, output_tokens=40)
        if req.generation_config.get("responseJsonSchema"):
            return json_response(analysis_json())
        return text_response("Курс «Фортепиано с нуля» стоит 14 900 ₽. Про клавиши расскажу!")


@pytest.fixture()
def gemini() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer() as server:
        yield server


def test_gemini_run_with_judge_and_other_prompts_then_compare(make_app, gemini,  # noqa: ANN001
                                                              tmp_path) -> None:
    app = make_app(gemini_api_key="k", gemini_base_url=gemini.base_url,
                   gemini_timeout_s=5)
    prompts = tmp_path / "prompts"
    shutil.copytree(PROMPTS_DIR, prompts, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    rule = "- Новое правило: всегда называй цену в рублях."
    (prompts / "reply.ru.md").write_text((PROMPTS_DIR / "reply.ru.md").read_text() + "\n" + rule)
    scenarios = str(write_scenarios(tmp_path / "s.jsonl"))
    gemini.set_responder(LabModel())
    invoke(app, "eval", "run", scenarios, "--out", str(tmp_path / "a"), "-j", "2")
    gemini.set_responder(LabModel(fail_point="14 900"))
    seen = len(gemini.requests)
    invoke(app, "eval", "run", scenarios, "--out", str(tmp_path / "b"), "--prompts", str(prompts))
    b = json.loads((tmp_path / "b" / "results.json").read_text(encoding="utf-8"))
    assert b["prompt_version"] == PromptSet(prompts).version != PROMPT_VERSION
    assert b["brain"].startswith("gemini:") and b["judge"]["model"]
    assert {t["prompt_version"] for s in b["scenarios"] for t in s["turns"]} == {b["prompt_version"]}
    requests = gemini.requests[seen:]
    replies = [r for r in requests if not r.generation_config.get("responseJsonSchema")]
    assert replies and all(rule in r.system_text for r in replies)
    judged = [r for r in requests if is_judge_request(r)]
    assert len(judged) == 2  # one call per dialog that has points
    burst_call = next(r for r in judged if "очередью" in r.contents_text)
    assert "сколько стоит" in burst_call.contents_text and "[course-prices]" in burst_call.contents_text
    assert "1. [must] Сделал ли это ассистент: назвал цену 14 900 ₽" in burst_call.contents_text
    assert "2. [must_not] Было ли нарушение: выдумал цену" in burst_call.contents_text
    # the whole KB, not the search hits: an entry nobody asked about is there too
    kb_ids = [e["id"] for e in json.loads(Path("knowledge_base.json").read_text())["faq"]]
    assert all(f"[{i}]" in burst_call.contents_text for i in kb_ids)
    # the turn's decisions follow its messages
    assert ("Программа (решения этого хода; клиент их не видит): решений нет"
            in burst_call.contents_text)
    assert burst_call.generation_config["responseJsonSchema"]["properties"]["verdicts"][
        "items"]["required"] == ["index", "evidence", "reason", "answer"]
    assert burst_call.model == "gemini-3.1-pro-preview"
    assert burst_call.generation_config["thinkingConfig"] == {"thinking_level": "HIGH"}
    assert "temperature" not in burst_call.generation_config
    points = b["scenarios"][0]["points"]
    assert [(p["kind"], p["verdict"]) for p in points] == [("must", "fail"), ("must_not", "pass")]
    assert points[0]["reason"] == "цена не названа"
    assert "строгий" in burst_call.system_text  # the judge prompt: strict, only what is written
    assert "Продукт «" in burst_call.contents_text  # + what the search gave the reply stage
    two = b["scenarios"][1]
    assert [p["verdict"] for p in two["points"]] == ["not_judged"]
    assert "судья не ответил" in two["points"][0]["reason"] and "LlmError" in two["error"]
    assert b["summary"]["tokens"]["total"] > 0 and b["summary"]["judge_tokens"]["prompt"] == 300
    out = invoke(app, "eval", "compare", str(tmp_path / "a" / "results.json"),
                 str(tmp_path / "b" / "results.json")).output
    assert "[must] назвал цену 14 900 ₽: pass → fail — цена не названа" in out
    assert PROMPT_VERSION in out and b["prompt_version"] in out


def test_judge_without_a_key_and_bad_scenarios_are_refused(lab_app, tmp_path) -> None:  # noqa: ANN001
    runner = lab_app.test_cli_runner()
    good = str(write_scenarios(tmp_path / "s.jsonl"))
    result = runner.invoke(args=["eval", "run", good, "--judge"])
    assert result.exit_code == 2 and "GEMINI_API_KEY" in result.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "turns": ["a"]}\n{"id": "x", "turns": ["b"]}\n')
    result = runner.invoke(args=["eval", "run", str(bad)])
    assert result.exit_code == 2 and "bad.jsonl:2: duplicate id" in result.output
    kb = tmp_path / "kb.json"
    kb.write_text('{"version": 1}')
    result = runner.invoke(args=["eval", "run", good, "--kb", str(kb)])
    assert result.exit_code == 2 and "is not valid" in result.output


def test_without_create_database_rights_the_embedded_server_is_used(pg, clean_db) -> None:  # noqa: ANN001
    from sqlalchemy.engine import make_url

    from app.eval.sandbox import throwaway_database
    from tests.conftest import make_settings

    engine = create_engine(pg.admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP ROLE IF EXISTS eval_nocreate"))
        conn.execute(text("CREATE ROLE eval_nocreate LOGIN NOCREATEDB"))
    engine.dispose()
    school = make_url(clean_db).set(username="eval_nocreate").render_as_string(hide_password=False)
    settings = make_settings(school, "http://127.0.0.1:9", data_dir=str(pg.dir))
    with throwaway_database(settings) as url:
        made = make_url(url)
        assert made.database.startswith("eval_") and made.username != "eval_nocreate"
        assert eval_databases(pg) == [made.database]
    assert eval_databases(pg) == []
