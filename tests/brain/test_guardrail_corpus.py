"""Guardrail precision on corpora of replies a strong model could write: good ones must be
delivered as written (>= 97 %), bad ones must all be stopped with the expected flag. The vocal
drawing and guitar corpora were written separately, for other schools' knowledge bases (the
drawing and guitar ones after the guardrails were built, as checks)."""
from __future__ import annotations

import json
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from app.brain.analysis import Analysis
from app.brain.contract import ClientCard, Decisions, OfferDecision, TurnContext
from app.brain.guardrails.check import check_reply, check_reply_details
from app.knowledge.base import load_kb
from app.knowledge.search import KnowledgeIndex
from tests.brain.test_brain_offline import NOW, msg

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
CORPORA = {"guardrail_corpus.jsonl": ROOT / "knowledge_base.json",
           "guardrail_corpus_vocal.jsonl": DATA / "kb_vocal.json",
           "guardrail_corpus_drawing.jsonl": DATA / "kb_drawing.json",
           "guardrail_corpus_guitar.jsonl": DATA / "kb_other.json",
           # held out: written before the guardrails were run on it (then the four classes
           # that slipped were closed, see docs/benchmarks.md)
           "guardrail_corpus_drawing_heldout.jsonl": DATA / "kb_drawing.json"}


@lru_cache(maxsize=4)
def _kb(path: Path) -> tuple[Any, Any]:
    kb = load_kb(path)
    return kb, KnowledgeIndex.build(kb)


def _analysis(strategy: str) -> Analysis:
    return Analysis.model_validate({
        "psych_state": "спокоен", "mood": "нейтральное", "funnel_stage": "warm",
        "intent": "узнать о курсах", "short_term_strategy": strategy or "ответить по делу",
        "long_term_strategy": "помочь выбрать курс", "reply_plan": "ответ и вопрос",
        "kb_ids": [], "follow_up": {"agreed": False}, "facts": {}, "offer": None,
        "escalate": {"needed": False, "reason": ""}})


def case_inputs(row: dict, kb_path: Path) -> tuple[TurnContext, Decisions, Analysis]:
    kb, index = _kb(kb_path)
    card = ClientCard(vk_id=7, first_name="Анна", tags=row.get("tags", []),
                      notes=row.get("notes", ""))
    ctx = TurnContext(turn_id=1, now=NOW, card=card,
                      new_messages=[msg(row.get("client", "Расскажите подробнее"))],
                      history=[], summary="", kb=kb, kb_index=index)
    granted = row.get("granted") or {}
    decisions = Decisions()
    if granted.get("percent"):
        decisions = Decisions(
            offer=OfferDecision(requested_id="first-purchase", granted=True, reason="ok",
                                kind="discount", percent=granted["percent"], code=granted["code"],
                                expires_at=NOW + timedelta(days=3)),
            allowed_codes={granted["code"]}, allowed_percents={granted["percent"]})
    elif granted.get("bonus"):
        decisions = Decisions(offer=OfferDecision(requested_id=granted["bonus"], granted=True,
                                                  reason="ok", kind="bonus"))
    return ctx, decisions, _analysis(row.get("strategy", ""))


def run_corpus(name: str) -> dict[str, Any]:
    rows = [json.loads(x) for x in (DATA / name).read_text(encoding="utf-8").splitlines() if x]
    out: dict[str, Any] = {"good": 0, "good_ok": 0, "bad": 0, "bad_ok": 0, "wrong": []}
    for row in rows:
        ctx, decisions, analysis = case_inputs(row, CORPORA[name])
        flags = check_reply(row["text"], ctx, decisions, analysis=analysis)
        key = "good" if row["good"] else "bad"
        ok = flags == [] if row["good"] else row["flag"] in flags
        out[key] += 1
        out[key + "_ok"] += ok
        if not ok:
            details = check_reply_details(row["text"], ctx, decisions, analysis)
            out["wrong"].append((row["text"], [(f.name, f.reason, f.fragment) for f in details]))
    return out


@pytest.mark.parametrize("name", list(CORPORA))
def test_corpus(name):
    res = run_corpus(name)
    assert res["good"] >= 15 and res["bad"] >= 8
    assert res["good_ok"] / res["good"] >= 0.97, res["wrong"]
    assert res["bad_ok"] == res["bad"], res["wrong"]


def test_every_flag_has_a_reason_and_a_fragment():
    ctx, decisions, analysis = case_inputs({}, ROOT / "knowledge_base.json")
    text = "Курс «Фортепиано с нуля» стоит 17 900 ₽, а по промокоду ЗИМА20 — дешевле."
    details = check_reply_details(text, ctx, decisions, analysis)
    by_name = {f.name: f for f in details}
    assert set(by_name) == {"price", "discount"}
    assert "17 900" in by_name["price"].fragment and "piano-from-zero" in by_name["price"].reason
    assert by_name["discount"].fragment == "ЗИМА20" and by_name["discount"].reason


def test_held_out_corpus_figures_and_the_four_classes():
    """The drawing school's held-out corpus: measured before the fixes at 42/53 good delivered
    and 7/19 bad stopped (docs/benchmarks.md); now every reply is classified as labelled."""
    res = run_corpus("guardrail_corpus_drawing_heldout.jsonl")
    assert (res["good_ok"], res["good"], res["bad_ok"], res["bad"]) == (53, 53, 19, 19)


def test_denied_needs_every_word_and_no_negation():
    from app.brain.guardrails.denied import denied_flags

    kb, _ = _kb(DATA / "kb_drawing.json")
    said = {t: [f.name for f in denied_flags(t, kb)] for t in (
        "Мы доставим вам материалы.", "Доставки материалов нет.", "Есть доставка?",
        "Курс без очных занятий.", "Занятия проходят очно.", "Смотреть уроки можно без интернета.")}
    assert said == {"Мы доставим вам материалы.": ["denied"], "Доставки материалов нет.": [],
                    "Есть доставка?": [], "Курс без очных занятий.": [],
                    "Занятия проходят очно.": ["denied"], "Смотреть уроки можно без интернета.": []}
    vocal, _ = _kb(DATA / "kb_vocal.json")  # an older KB without the field: nothing denied
    assert vocal.not_offered == [] and denied_flags("Приходите на очное занятие", vocal) == []
