"""The offline brain on messages with several asks, on every school's KB: two asks joined by «и»
are both answered; a generic ask («сколько стоит?») about a topic the KB lacks is handed over,
not answered from an unrelated entry; a hand-over still states the matching KB policy."""
from __future__ import annotations

import re

import pytest

from app.brain.contract import Decisions
from app.brain.offline.answers import KB_NO_MATCH
from app.brain.offline.brain import OfflineBrain
from app.brain.offline.moments import without_redirect_clause
from tests.brain.test_kb_context import SETS, ctx_for, kb_of


def answer(name: str, text: str, escalated: bool = False) -> tuple:
    ctx = ctx_for(SETS[name][0], text)
    brain = OfflineBrain()
    result = brain.analyze(ctx)
    reply = brain.write_reply(ctx, result.value, Decisions(escalated=escalated)).value
    return result, reply


def said(name: str, entry_id: str, reply: str) -> bool:
    return kb_of(SETS[name][0])[0].entry(entry_id).answer[:50] in reply


@pytest.mark.parametrize("name,text,first,second", [
    ("guitar", "Какую гитару купить новичку и сколько заниматься в день?", "which-guitar",
     "practice-time"),
    ("vocal", "Нужен ли микрофон и можно ли заниматься с телефона?", "microphone", "phone-lessons"),
    ("vocal", "Сколько длится доступ и можно ли оплатить в рассрочку?", "access-term",
     "installments"),
    ("main", "А с какого курса начать и сколько он стоит?", "which-course-to-choose",
     "course-prices"),
])
def test_two_asks_joined_by_and_are_both_answered(name, text, first, second):
    result, reply = answer(name, text)
    assert said(name, first, reply) and said(name, second, reply), reply
    assert "что вам ближе" not in reply and KB_NO_MATCH not in result.flags


@pytest.mark.parametrize("name,text", [
    ("vocal", "У вас есть летний вокальный лагерь для подростков? Какие даты и сколько стоит?"),
    ("english", "Вы организуете языковые поездки в Лондон? Какие даты и сколько стоит?"),
    ("guitar", "У вас есть гитарный фестиваль в Сочи? Когда он и сколько стоит?"),
    ("drawing", "Проводите ли вы пленэр в Крыму летом? Какие даты и какая цена?"),
    ("main", "У вас есть летний музыкальный лагерь для детей? Какие даты и сколько стоит?"),
])
def test_generic_ask_about_an_unknown_topic_is_handed_over(name, text):
    result, reply = answer(name, text)
    kb = kb_of(SETS[name][0])[0]
    assert "₽" not in reply and not any(p.title in reply for p in kb.products), reply
    assert not any(f.answer[:50] in reply for f in kb.faq_entries), reply
    assert "коллег" in reply and KB_NO_MATCH in result.flags
    assert result.value.escalate.needed


@pytest.mark.parametrize("name,text,entry_id", [
    ("vocal", "Купила курс неделю назад, поняла что не моё. Хочу вернуть деньги", "refund"),
    ("english", "Оплатил курс вчера, передумал. Хочу возврат денег", "refund"),
    ("drawing", "Купила курс, не понравилось. Хочу вернуть деньги", "money-back"),
    ("guitar", "Купил курс три дня назад, передумал, верните деньги", "money-back"),
    ("main", "Добрый вечер. Купила курс неделю назад, поняла что не моё. Хочу вернуть деньги",
     "refund"),
])
def test_a_hand_over_still_states_the_kb_policy(name, text, entry_id):
    _, reply = answer(name, text, escalated=True)
    answer_text = kb_of(SETS[name][0])[0].entry(entry_id).answer
    # the refund period, word for word (without a «— просто напишите менеджеру» tail: the
    # client is already writing to the school, the reply hands over itself)
    stated = [s for s in re.split(r"(?<=[.!?])\s+", answer_text)
              if len(s) > 20 and (s in reply or (without_redirect_clause(s) or s) in reply)]
    assert stated and re.search(r"\d+ дн", stated[0]), reply
    assert "менеджер" in reply


def test_a_hand_over_without_a_matching_entry_adds_no_facts():
    _, reply = answer("vocal", "Позовите, пожалуйста, живого человека", escalated=True)
    kb = kb_of(SETS["vocal"][0])[0]
    assert not any(f.answer[:40] in reply for f in kb.faq_entries), reply


@pytest.mark.parametrize("name,text,entry_id", [
    ("vocal", "Мне 16 лет, у меня нет слуха — получится петь?", "age"),
    ("guitar", "Мне за 50 лет, у меня нет слуха, получится научиться?", "too-old"),
    ("english", "Сыну 12 лет, ему подойдёт детский курс?", "kids-age"),
    ("main", "У меня синтезатор на 61 клавишу. На нём можно заниматься или сразу покупать "
             "пианино?", "synth-61-keys"),
])
def test_the_entry_about_the_clients_number_is_answered(name, text, entry_id):
    _, reply = answer(name, text)
    assert said(name, entry_id, reply), reply


def test_a_number_in_another_sense_does_not_pull_an_entry():
    """«4 года» is not the «3–4 недели» of an entry about results."""
    _, reply = answer("drawing", "Мне 4 года рисую с сыном, какие материалы нужны?")
    assert not said("drawing", "no-talent", reply), reply
