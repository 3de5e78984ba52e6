"""What the model is shown: the whole KB as the first, stable block of both prompts while it fits
KB_CONTEXT_TOKEN_BUDGET, retrieval past it; Gemini's cached token count recorded per stage; and
KB reach — for each query of the four query sets, the answering entry is in the reply prompt
that the fake Gemini receives."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import pytest

from app.brain.analysis import parse_analysis
from app.brain.contract import ClientCard, Decisions, TurnContext
from app.brain.engine import run_brain
from app.brain.gemini.brain import GeminiBrain
from app.brain.offline.brain import OfflineBrain
from app.brain.prompts.render import build_analysis_content, build_reply_content, render_whole_kb
from app.knowledge.base import load_kb
from app.knowledge.search import KnowledgeIndex
from app.platform.config import Settings
from tests.brain.test_brain_gemini import ANALYSIS, GOOD_REPLY, Effects
from tests.brain.test_brain_offline import NOW, msg
from tests.fakes.gemini_server import FakeGeminiServer, json_response, text_response

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
SETS = {"main": (ROOT / "knowledge_base.json", DATA / "kb_queries.jsonl"),
        "guitar": (DATA / "kb_other.json", DATA / "kb_other_queries.jsonl"),
        "vocal": (DATA / "kb_vocal.json", DATA / "kb_vocal_queries.jsonl"),
        "drawing": (DATA / "kb_drawing.json", DATA / "kb_drawing_queries.jsonl"),
        "english": (DATA / "kb_english.json", DATA / "kb_english_queries.jsonl")}


@lru_cache(maxsize=8)
def kb_of(path: Path) -> tuple[Any, Any]:
    kb = load_kb(path)
    return kb, KnowledgeIndex.build(kb)


def ctx_for(path: Path, text: str, turn_id: int = 1) -> TurnContext:
    kb, index = kb_of(path)
    return TurnContext(turn_id=turn_id, now=NOW, card=ClientCard(vk_id=5, first_name="Анна"),
                       new_messages=[msg(text)], history=[], summary="", kb=kb, kb_index=index)


def queries(name: str) -> list[tuple[str, str]]:
    rows = [json.loads(x) for x in SETS[name][1].read_text(encoding="utf-8").splitlines() if x]
    return [(r["query"], r["expected"]) for r in rows]


def entry_marker(entry_id: str) -> str:
    return f"[{entry_id}]"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer() as server:
        yield server


def brain(fake: FakeGeminiServer, budget: int) -> GeminiBrain:
    fake._state.queue.clear()
    fake._state.requests.clear()
    return GeminiBrain(api_key="k", base_url=fake.base_url, analysis_model="a", reply_model="r",
                       timeout_s=2, max_attempts=1, kb_token_budget=budget)


def test_setting_default_and_env(monkeypatch):
    assert Settings().kb_context_token_budget >= 100_000
    monkeypatch.setenv("KB_CONTEXT_TOKEN_BUDGET", "5000")
    assert Settings().kb_context_token_budget == 5000


def test_whole_kb_is_the_stable_prefix_of_both_prompts():
    path = SETS["main"][0]
    a = build_analysis_content(ctx_for(path, "Сколько стоит курс?", 1))
    b = build_reply_content(ctx_for(path, "А рассрочка есть?", 2),
                            parse_analysis(json.dumps(ANALYSIS)), Decisions())
    whole = render_whole_kb(kb_of(path)[0])
    for content in (a, b):
        assert whole in content
        assert content.index(whole) < content.index("<карточка_клиента>")
    prefix = a[:a.index("</база_знаний>")]
    assert b.startswith(prefix)  # byte-identical up to the end of the KB: cacheable
    for entry_id in kb_of(path)[0].ids():
        assert entry_marker(entry_id) in prefix


def test_offers_are_shown_to_the_analysis_only():
    path = SETS["vocal"][0]
    analysis = parse_analysis(json.dumps(ANALYSIS))
    for budget in (200_000, 1):
        a = build_analysis_content(ctx_for(path, "Есть скидки?"), budget)
        b = build_reply_content(ctx_for(path, "Есть скидки?"), analysis, Decisions(), budget)
        assert "[first-purchase] скидка 10%" in a and "[warmup-pdf] бонус" in a
        assert "<предложения_школы>" not in b and "[second-course]" not in b


def test_over_budget_retrieval_picks_entries():
    path = SETS["main"][0]
    content = build_reply_content(ctx_for(path, "есть рассрочка?"),
                                  parse_analysis(json.dumps(dict(ANALYSIS, kb_ids=[]))),
                                  Decisions(), kb_budget=100)
    assert "[installments]" in content and "<каталог>" in content
    assert render_whole_kb(kb_of(path)[0]) not in content
    assert content.count("Ответ:") <= 8  # a handful of passages, not the whole FAQ


def test_cached_tokens_are_recorded_per_stage(fake):
    gemini = brain(fake, 200_000)
    fake.push(json_response(ANALYSIS, prompt_tokens=9000, cached_tokens=0),
              text_response(GOOD_REPLY, prompt_tokens=9500, cached_tokens=8192))
    result = run_brain(ctx_for(SETS["main"][0], "Нужно ли покупать пианино?"), gemini,
                       OfflineBrain(), Effects())
    gemini.close()
    assert result.usage["reply"]["cached_tokens"] == 8192
    assert result.usage["analysis"]["cached_tokens"] == 0
    assert result.usage["reply"]["prompt_tokens"] == 9500


@pytest.mark.parametrize("budget", [200_000, 1], ids=["whole-kb", "retrieval"])
@pytest.mark.parametrize("name", list(SETS))
def test_kb_reach_in_the_reply_prompt(fake, name, budget):
    """The answering entry is in the reply-stage request the fake Gemini receives. The analysis
    the fake returns names no entries (kb_ids empty), so retrieval alone must reach it."""
    gemini = brain(fake, budget)
    analysis = dict(ANALYSIS, kb_ids=[])
    cases = queries(name)
    reached = 0
    missed = []
    for i, (query, expected) in enumerate(cases):
        fake.push(json_response(analysis), text_response(GOOD_REPLY))
        run_brain(ctx_for(SETS[name][0], query, i + 1), gemini, OfflineBrain(), Effects())
        reply_request = fake.requests[-1]
        if entry_marker(expected) in reply_request.contents_text:
            reached += 1
        else:
            missed.append((query, expected))
    gemini.close()
    assert reached / len(cases) >= 0.97, missed
