"""Questions a KB cannot answer (camps, concert tickets, tuning, rentals, jobs, franchises, other
instruments...), written for each of five schools before looking at the search's answers: the
offline brain must not answer them confidently with some unrelated entry, and the turn must carry
the kb_no_match flag that feeds the owner's KB-gaps report."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.brain.offline.answers import answered_ids
from app.brain.offline.brain import KB_NO_MATCH, OfflineBrain
from tests.brain.test_kb_context import DATA, ROOT, ctx_for

SETS = {"main": (ROOT / "knowledge_base.json", DATA / "kb_unanswerable.jsonl"),
        "guitar": (DATA / "kb_other.json", DATA / "kb_other_unanswerable.jsonl"),
        "vocal": (DATA / "kb_vocal.json", DATA / "kb_vocal_unanswerable.jsonl"),
        "drawing": (DATA / "kb_drawing.json", DATA / "kb_drawing_unanswerable.jsonl"),
        "english": (DATA / "kb_english.json", DATA / "kb_english_unanswerable.jsonl")}
# Measured 11-23 % per set, 19 % on the held-out sets written after the thresholds were set
# (bench/grounding.py). The target is 10 %, not reached yet: this bound guards the gain
# (45-65 % before the KB's unknown words counted) from regressing.
MAX_FALSE_CONFIDENT = 0.25


def holdout_path(name: str) -> Path:
    path = SETS[name][1]
    return path.with_name(path.stem + "_holdout.jsonl")


def unanswerable(name: str, holdout: bool = False) -> list[str]:
    lines = (holdout_path(name) if holdout else SETS[name][1]).read_text(encoding="utf-8")
    return [json.loads(line)["query"] for line in lines.splitlines() if line.strip()]


def false_confident(name: str, holdout: bool = False) -> list[tuple[str, list[str]]]:
    path = SETS[name][0]
    found = [(q, answered_ids(ctx_for(path, q, i + 1), q))
             for i, q in enumerate(unanswerable(name, holdout))]
    return [(q, ids) for q, ids in found if ids]


@pytest.mark.parametrize("name", list(SETS))
def test_unanswerable_questions_are_rarely_answered_confidently(name):
    assert len(unanswerable(name)) >= 20
    wrong = false_confident(name)
    assert len(wrong) / len(unanswerable(name)) <= MAX_FALSE_CONFIDENT, wrong


def test_held_out_unanswerable_questions_too():
    wrong = [w for name in SETS for w in false_confident(name, holdout=True)]
    total = sum(len(unanswerable(name, holdout=True)) for name in SETS)
    assert total >= 50
    assert len(wrong) / total <= MAX_FALSE_CONFIDENT, wrong


@pytest.mark.parametrize("name, text", [
    ("main", "Есть ли у вас летний лагерь в Подмосковье?"),
    ("main", "Где купить билеты в филармонию?"),
    ("guitar", "есть летний гитарный лагерь для подростков?"),
    ("english", "делаете нотариальный перевод документов?"),
])
def test_a_question_about_something_the_kb_never_mentions_is_a_gap(name, text):
    ctx = ctx_for(SETS[name][0], text)
    result = OfflineBrain().analyze(ctx)
    assert KB_NO_MATCH in result.flags
