"""The offline brain on knowledge bases it was not written for: it answers plain questions with
the right entry's facts, asks or hands over when unsure, never sends the same product list twice
in a dialog and never lists products to someone who is just looking."""
from __future__ import annotations

import pytest

from app.brain.contract import Decisions, HistoryMessage
from app.brain.offline.brain import OfflineBrain
from app.brain.prompts.render import format_rub
from tests.brain.test_brain_offline import NOW
from tests.brain.test_kb_context import SETS, ctx_for, kb_of, queries


def reply_to(ctx) -> tuple:
    brain = OfflineBrain()
    analysis = brain.analyze(ctx).value
    return analysis, brain.write_reply(ctx, analysis, Decisions()).value


def has_facts(kb, entry_id: str, reply: str) -> bool:
    entry = kb.entry(entry_id)
    if hasattr(entry, "answer"):
        return entry.answer[:60] in reply
    return entry.title in reply and format_rub(entry.price_rub) in reply


@pytest.mark.parametrize("name", ["guitar", "vocal", "drawing", "english"])
def test_plain_questions_answered_with_the_right_entry(name):
    kb, _ = kb_of(SETS[name][0])
    cases = queries(name)
    right = sum(has_facts(kb, expected, reply_to(ctx_for(SETS[name][0], q, i + 1))[1])
                for i, (q, expected) in enumerate(cases))
    assert right / len(cases) >= 0.8, right


@pytest.mark.parametrize("name", ["vocal", "drawing"])
def test_a_reply_never_names_another_school(name):
    _, reply = reply_to(ctx_for(SETS[name][0], "Здравствуйте"))
    assert "Филимонов" not in reply and "фортепиано" not in reply.lower()


@pytest.mark.parametrize("text", ["Просто смотрю", "я пока просто присматриваюсь к курсам",
                                  "Спасибо, пока просто интересуюсь ценами"])
def test_just_looking_gets_no_product_list(text):
    path = SETS["vocal"][0]
    kb, _ = kb_of(path)
    _, reply = reply_to(ctx_for(path, text))
    assert not any(format_rub(p.price_rub) in reply for p in kb.products), reply
    assert not any(p.title in reply for p in kb.products), reply


def test_a_dialog_never_gets_the_same_catalogue_twice():
    path = SETS["drawing"][0]
    said: list[HistoryMessage] = []
    replies = []
    for i, text in enumerate(["Хочу записаться на курс", "А какие есть курсы?",
                              "Хочу записаться на курс", "Какие курсы посоветуете?"]):
        ctx = ctx_for(path, text, i + 1)
        ctx.history = list(said)
        _, reply = reply_to(ctx)
        replies.append(reply)
        said += [HistoryMessage("in", text, NOW), HistoryMessage("out", reply, NOW)]
    assert len(set(replies)) == len(replies), replies
    kb, _ = kb_of(path)
    for p in kb.products:
        line = f"«{p.title}» — {format_rub(p.price_rub)}"
        assert sum(line in r for r in replies) <= 1, (line, replies)


def test_unsure_question_is_clarified_or_handed_over_not_guessed():
    path = SETS["vocal"][0]
    analysis, reply = reply_to(ctx_for(path, "А у вас есть скидки для многодетных семей из Твери?"))
    kb, _ = kb_of(path)
    assert not any(f.answer[:60] in reply for f in kb.faq_entries if f.id != "senior-discount")
    assert "?" in reply or "коллег" in reply
