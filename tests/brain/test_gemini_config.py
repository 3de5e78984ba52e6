"""The generation config per model family, seen in the requests the Gemini stand-in received,
and the bill: thinking tokens priced as output, each stage by the model that answered."""
from __future__ import annotations

import json
from typing import Any, Iterator

import pytest
from sqlalchemy import select

from app.brain.gemini.config import StageConfig, generation_config, model_family
from app.composition.factory import parts as services
from app.models import Turn
from app.platform.config import DEFAULT_GEMINI_MODEL, DEFAULT_JUDGE_MODEL, Settings
from app.reports.model_cost import Prices, table_key
from tests.fakes.gemini_server import FakeGeminiServer, RecordedRequest, text_response
from tests.helpers import drain, message_new, post

ANALYSIS = {"psych_state": "спокойна", "funnel_stage": "warm", "intent": "узнать цену",
            "short_term_strategy": "ответить", "long_term_strategy": "помочь выбрать",
            "facts": {}, "follow_up": {"agreed": False}, "kb_ids": [], "offer": None,
            "escalate": {"needed": False, "reason": ""}, "reply_plan": "коротко"}


def answer(req: RecordedRequest) -> tuple[int, dict]:
    """Every call reports 400 thinking tokens and a versioned model name."""
    if req.generation_config.get("responseJsonSchema"):
        return text_response(json.dumps(ANALYSIS, ensure_ascii=False), prompt_tokens=1000,
                             output_tokens=50, thinking_tokens=400,
                             model_version=req.model + "-001")
    return text_response("Курс «Фортепиано с нуля» стоит 14 900 ₽.", prompt_tokens=1000,
                         output_tokens=64, thinking_tokens=400, model_version=req.model + "-001")


@pytest.fixture()
def gemini() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer(answer) as server:
        yield server


def thinking(cfg: dict) -> dict:
    """The thinking config as sent (this SDK writes `thinking_level` in snake case, the budget
    in camel case; the API accepts both): keys in camel case."""
    return {"".join(w if i == 0 else w.title() for i, w in enumerate(k.split("_"))): v
            for k, v in (cfg.get("thinkingConfig") or {}).items()}


def play(app: Any, clock: Any, peer: int, text: str) -> None:
    post(app.test_client(), message_new(peer, text))
    clock.advance(9)
    drain(app)


def test_defaults_gemini3_thinking_level_no_temperature_capped(make_app, gemini, clock) -> None:  # noqa: ANN001
    app = make_app(gemini_api_key="k", gemini_base_url=gemini.base_url, gemini_timeout_s=3)
    play(app, clock, 501, "Сколько стоит курс с нуля?")
    play(app, clock, 502, "А для начинающих что есть?")
    reqs = gemini.requests
    assert [r.model for r in reqs] == [DEFAULT_GEMINI_MODEL] * 4 == ["gemini-3.8-flash"] * 4
    configs = [r.generation_config for r in reqs]
    for cfg in configs:
        assert "temperature" not in cfg
        assert thinking(cfg) == {"thinkingLevel": "LOW"}
    assert [c["maxOutputTokens"] for c in configs] == [8192, 4096, 8192, 4096]

    with services(app).db.session() as s:
        usage = s.execute(select(Turn.usage).order_by(Turn.id)).scalars().first()
    assert usage["analysis"]["thinking_tokens"] == 400
    assert usage["analysis"]["model_version"] == "gemini-3.8-flash-001"
    assert usage["reply"]["output_tokens"] == 64

    result = app.test_cli_runner().invoke(args=["report", "summary", "--json"])
    m = json.loads(result.output)["model"]
    # 2 × (50 + 64) answer tokens + 4 × 400 thinking tokens
    assert (m["prompt_tokens"], m["output_tokens"], m["thinking_tokens"]) == (4000, 1828, 1600)
    # gemini-3.8-flash until 2026-12-31: $0.75 in, $3.75 out (thinking included) per 1M
    assert m["cost_usd"] == round((4000 * 0.75 + 1828 * 3.75) / 1e6, 6) == 0.009855
    assert list(m["by_model"]) == ["gemini-3.8-flash"]
    assert m["prices"]["checked"] == "2026-12-07" and m["unpriced_models"] == []


def test_stage_levels_and_caps_are_settings(make_app, gemini, clock) -> None:  # noqa: ANN001
    app = make_app(gemini_api_key="k", gemini_base_url=gemini.base_url, gemini_timeout_s=3,
                   gemini_analysis_thinking_level="medium", gemini_reply_thinking_level="minimal",
                   gemini_analysis_max_output_tokens=3000, gemini_reply_max_output_tokens=1500)
    play(app, clock, 503, "Сколько стоит курс?")
    a, r = (q.generation_config for q in gemini.requests)
    assert (thinking(a), a["maxOutputTokens"]) == ({"thinkingLevel": "MEDIUM"}, 3000)
    assert (thinking(r), r["maxOutputTokens"]) == ({"thinkingLevel": "MINIMAL"}, 1500)


def test_gemini_25_gets_a_budget_never_a_level(make_app, gemini, clock) -> None:  # noqa: ANN001
    app = make_app(gemini_api_key="k", gemini_base_url=gemini.base_url, gemini_timeout_s=3,
                   gemini_analysis_model="gemini-2.5-flash-lite",
                   gemini_reply_model="gemini-2.5-flash-lite")
    play(app, clock, 504, "Сколько стоит курс?")
    a, r = (q.generation_config for q in gemini.requests)
    assert thinking(a) == {"thinkingBudget": 1024} == thinking(r)
    assert (a["temperature"], r["temperature"]) == (0.2, 0.7)
    assert (a["maxOutputTokens"], r["maxOutputTokens"]) == (8192, 4096)
    m = json.loads(app.test_cli_runner().invoke(
        args=["report", "summary", "--json"]).output)["model"]
    assert list(m["by_model"]) == ["gemini-2.5-flash-lite"]
    assert m["cost_usd"] == round((2000 * 0.10 + (50 + 64 + 800) * 0.40) / 1e6, 6) == 0.000566


def test_config_builder_per_family() -> None:
    assert [model_family(m) for m in ("gemini-3.8-flash", "gemini-3.1-pro-preview",
                                      "models/gemini-4-flash", "gemini-2.5-flash-lite",
                                      "gemini-2.0-flash", "an-model")] == [
        "gemini3", "gemini3", "gemini3", "gemini2.5", "other", "other"]
    cfg = generation_config("gemini-2.5-pro", "judge", StageConfig("minimal", 2000))
    assert cfg.thinking_config.thinking_budget == 128 and cfg.thinking_config.thinking_level is None
    other = generation_config("an-model", "reply", StageConfig())
    assert other.thinking_config is None and other.temperature == 0.7
    assert other.max_output_tokens == 8192
    with pytest.raises(ValueError):
        Settings(gemini_reply_thinking_level="extreme")


def test_judge_defaults_to_a_stronger_model_thinking_high() -> None:
    s = Settings()
    assert (s.eval_judge_model, DEFAULT_JUDGE_MODEL) == ("gemini-3.1-pro-preview",) * 2
    assert (s.eval_judge_thinking_level, s.eval_judge_max_output_tokens) == ("high", 32768)


def test_the_composition_builds_the_app_gemini_and_the_judge_with_the_stage_settings() -> None:
    from app.brain.prompts import PromptSet
    from app.composition.build import gemini_from, judge_from

    s = Settings(gemini_api_key="k", gemini_analysis_thinking_level="medium",
                 gemini_analysis_max_output_tokens=3000, gemini_reply_max_output_tokens=1500,
                 eval_judge_model="gemini-2.5-pro", eval_judge_thinking_level="minimal",
                 eval_judge_max_output_tokens=2000, gemini_thinking_budget=256)
    brain, judge = gemini_from(s), judge_from(s, PromptSet(None))
    try:
        assert brain is not None and judge is not None
        for built in (brain, judge):
            assert built.stages["analysis"] == StageConfig("medium", 3000, 256)
            assert built.stages["reply"].max_output_tokens == 1500
        assert judge.judge_model == "gemini-2.5-pro"
        assert judge.stages["judge"] == StageConfig("minimal", 2000, 256)
    finally:
        for built in (brain, judge):
            if built is not None:
                built.close()
    assert gemini_from(Settings(gemini_api_key=None)) is None
    assert judge_from(Settings(gemini_api_key=None)) is None


def test_price_table_keys_and_promotional_period() -> None:
    from datetime import date

    assert table_key("models/gemini-3.5-flash-001") == "gemini-3.5-flash"
    assert table_key("gemini-3.5-flash-lite-preview-09") == "gemini-3.5-flash-lite"
    assert table_key("gemini-3.7-flash") is None and table_key("fake") is None
    p = Prices()
    assert p.priced_as("gemini-2.5-flash", "gemini-3.5-flash-001") == "gemini-3.5-flash"
    assert p.rate("gemini-3.8-flash", date(2026, 12, 31)).output_per_m == 3.75
    assert p.rate("gemini-3.8-flash", date(2027, 1, 1)).output_per_m == 7.50
    over = Prices.from_settings(Settings(gemini_price_output_per_m=5.0))
    assert (over.override.input_per_m, over.override.output_per_m) == (1.50, 5.0)
