"""A former student coming back gets the next course after the one they took (next level, same
audience) and the extension of the old access, on every school's KB: from the card's purchases
or, without them, from the client's own words; never the same course sold again."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.brain.contract import Decisions, PurchaseView
from app.brain.offline.brain import KB_NO_MATCH, OfflineBrain
from app.brain.prompts.render import format_rub
from tests.brain.test_brain_offline import NOW
from tests.brain.test_kb_context import SETS, ctx_for, kb_of


def turn(name: str, text: str, owned: str = "") -> tuple:
    ctx = ctx_for(SETS[name][0], text)
    if owned:
        kb = kb_of(SETS[name][0])[0]
        ctx.card.purchases = [PurchaseView(owned, kb.product(owned).title,
                                           NOW - timedelta(days=400), NOW - timedelta(days=30))]
    brain = OfflineBrain()
    result = brain.analyze(ctx)
    return result.flags, brain.write_reply(ctx, result.value, Decisions()).value


def reply(name: str, text: str, owned: str = "") -> str:
    return turn(name, text, owned)[1]


def product(name: str, product_id: str):
    return kb_of(SETS[name][0])[0].product(product_id)


@pytest.mark.parametrize("name,text,taken,after", [
    ("vocal", "Здравствуйте! Полгода назад проходила у вас вокал с нуля, доступ закончился. "
              "Хочу продолжить заниматься, что посоветуете?", "voice-start", "voice-pop"),
    ("guitar", "Год назад закончил курс гитары для начинающих, хочу продолжить учиться. "
               "Что дальше?", "g1", "g2"),
    ("english", "Я проходил у вас английский с нуля, доступ закончился. Хочу учиться дальше",
     "english-start", "speaking-b1"),
    ("main", "Привет! Год назад проходил у вас курс с нуля, доступ уже закончился. "
             "Хочу продолжить, что посоветуете?", "piano-from-zero", "piano-next-step"),
])
def test_former_student_in_own_words_gets_next_course_and_extension(name, text, taken, after):
    flags, answer = turn(name, text)
    old, new = product(name, taken), product(name, after)
    assert KB_NO_MATCH not in flags  # answered from the KB's courses
    assert new.title in answer and format_rub(new.price_rub) in answer, answer
    assert format_rub(old.extension.price_rub) in answer and "продлить" in answer, answer
    assert format_rub(old.price_rub) not in answer, answer


@pytest.mark.parametrize("name,owned,after", [("drawing", "draw-basics", "digital-art"),
                                              ("main", "piano-from-zero", "piano-next-step")])
def test_former_student_on_the_card_gets_next_course_and_extension(name, owned, after):
    answer = reply(name, "Хочу вернуться к занятиям, что посоветуете?", owned)
    old, new = product(name, owned), product(name, after)
    assert new.title in answer and format_rub(old.extension.price_rub) in answer, answer
    assert format_rub(old.price_rub) not in answer, answer


def test_a_school_elsewhere_is_not_taken_for_our_course():
    answer = reply("main", "Я закончил музыкальную школу, хочу продолжить заниматься")
    assert "продлить" not in answer and "Следующая ступень" not in answer, answer
