"""A promise of a person is kept in code: the reply that promises a colleague's answer calls one
(manager alert, dialog marked for staff) and says when; "write to the manager" never reaches a
client who is already writing to the school."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select

from app.brain.promises import find_promise, find_redirect, handoff_when, keep_promise, without_redirects
from app.composition.factory import parts as services
from app.knowledge.base import load_kb
from app.models import Dialog, ManagerAlert, Turn
from tests.e2e.test_scenarios import say
from tests.fakes.scripted_model import analysis
from tests.pg import ROOT

MSK = timezone(timedelta(hours=3))
KB = load_kb(ROOT / "knowledge_base.json")


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 25, hour, minute, tzinfo=MSK)  # a Wednesday


@pytest.mark.parametrize("text", [
    "Передаю ваш вопрос менеджеру школы, он ответит здесь же.",
    "Честно скажу, не знаю. Уточню у коллег и вернусь с ответом.",
    "Ссылку на пробные уроки пришлёт менеджер.",
    "Коллеги проверят ваш заказ и напишут вам.",
    "Пришлите почту — откроем доступ вручную.",
    "Вам ответят здесь же, в этом диалоге.",
])
def test_a_person_promised_is_found(text: str) -> None:
    assert find_promise(text) is not None


@pytest.mark.parametrize("text", [
    "Курс «Фортепиано с нуля» — 14 900 ₽. Какая у вас цель?",
    "Преподаватель проверит ваше задание в течение 48 часов.",  # how the course works
    "После оплаты менеджер согласует с вами удобное время.",  # how buying works
    "Если хотите, передам ваш вопрос менеджеру.",  # an offer, not yet a promise
    "Хорошо, напишу вам в пятницу в 19:00.",  # a reminder the program keeps
])
def test_no_person_promised(text: str) -> None:
    assert find_promise(text) is None


@pytest.mark.parametrize("now, tz, when", [
    (at(23, 40), "Europe/Moscow", "завтра после 9:00"),
    (at(12), "Europe/Moscow", "сегодня до 21:00"),
    (at(20, 30), "Europe/Moscow", "завтра после 9:00"),  # less than an hour left
    (at(7), "Europe/Moscow", "сегодня после 9:00"),
    (at(12), "Asia/Yekaterinburg", "сегодня до 23:00 по вашему времени"),
    (at(23, 40), "Asia/Vladivostok", "сегодня после 16:00 по вашему времени"),
])
def test_when_a_person_answers_comes_from_the_kb_hours_in_the_clients_zone(
        now: datetime, tz: str, when: str) -> None:
    assert handoff_when(now, tz, KB) == when


def test_a_promise_without_a_time_is_told_when() -> None:
    text, promised = keep_promise("Передаю ваш вопрос менеджеру, он ответит здесь же.",
                                  at(23, 40), "Europe/Moscow", KB)
    assert promised and text == "Передаю ваш вопрос менеджеру, он ответит здесь же, завтра после 9:00."
    text, _ = keep_promise("Уточню у коллег. Что ещё подсказать?", at(12), "Europe/Moscow", KB)
    assert text == ("Уточню у коллег. Коллеги напишут вам здесь же, сегодня до 21:00. "
                    "Что ещё подсказать?")
    same = "Менеджер ответит вам завтра после 9:00."
    assert keep_promise(same, at(23, 40), "Europe/Moscow", KB) == (same, True)


@pytest.mark.parametrize("kb_answer", [
    "Напишите менеджеру реквизиты и название курса.",
    "В течение 14 дней с даты оплаты вернём деньги полностью — просто напишите менеджеру.",
    "Уточните у менеджера, какая скидка действует для вас сейчас.",
])
def test_write_to_the_manager_becomes_a_hand_over(kb_answer: str) -> None:
    fixed = without_redirects(kb_answer)
    assert find_redirect(fixed) is None and "менеджеру" not in fixed.replace("передам менеджеру", "")
    assert find_promise(fixed) is not None  # and the hand-over is a promise that is kept


def test_a_conditional_invitation_is_rewritten_but_promises_nothing_yet() -> None:
    fixed = without_redirects("Если не помогло — пришлите менеджеру скриншот и название урока.")
    assert find_redirect(fixed) is None and "пришлите сюда скриншот" in fixed
    assert find_promise(fixed) is None  # nothing to do until the client writes again


def test_an_alternative_channel_is_no_hand_over() -> None:
    fixed = without_redirects("Доступ можно продлить в разделе «Мои курсы» или через менеджера.")
    assert fixed == "Доступ можно продлить в разделе «Мои курсы» или здесь, в переписке."
    assert find_promise(fixed) is None


# --- against the Gemini stand-in (a real HTTP server), through the whole pipeline -----------

def _state(app: Any) -> tuple[bool, int, list[str]]:
    with services(app).db.session() as s:
        dialog = s.execute(select(Dialog)).scalar_one()
        alerts = len(s.execute(select(ManagerAlert)).scalars().all())
        turn = s.execute(select(Turn).order_by(Turn.id.desc())).scalars().first()
        return bool(dialog.needs_human), alerts, list(turn.flags or [])


def test_a_scripted_promise_of_a_colleague_calls_a_person(gapp, model, vk, clock) -> None:  # noqa: ANN001
    model.analyses.append(analysis(escalate={"needed": False, "reason": ""}))
    model.replies.append("Хороший вопрос! Уточню у коллег и вернусь к вам с ответом.")
    say(gapp, clock, 501, "Можно ли получить справку для налогового вычета?")
    needs_human, alerts, flags = _state(gapp)
    assert needs_human and alerts == 1 and "handoff:promise" in flags
    manager = vk.emulator.sent(777)
    assert len(manager) == 1 and "Уточню у коллег" in manager[0].text
    sent = vk.emulator.sent(501)[0].text
    assert "сегодня до 21:00" in sent  # 14:30 in Moscow: the school works till 21:00


def test_a_scripted_reply_promising_nothing_calls_nobody(gapp, model, vk, clock) -> None:  # noqa: ANN001
    model.replies.append("Курс «Фортепиано с нуля» стоит 14 900 ₽. Какая у вас цель?")
    say(gapp, clock, 502, "Сколько стоит курс с нуля?")
    needs_human, alerts, flags = _state(gapp)
    assert not needs_human and alerts == 0 and "handoff:promise" not in flags
    assert vk.emulator.sent(777) == []


def test_a_scripted_write_to_the_manager_is_rewritten(gapp, model, vk, clock) -> None:  # noqa: ANN001
    model.replies.append("Да, можно выставить счёт на ИП. Напишите менеджеру реквизиты.")
    say(gapp, clock, 503, "Можно оплатить по счёту от ИП?")
    sent = vk.emulator.sent(503)[0].text
    assert "напишите менеджеру" not in sent.lower() and "я передам менеджеру" in sent
    assert _state(gapp)[:2] == (True, 1)


def test_at_23_40_the_offline_brain_promises_tomorrow_after_9_and_calls_a_person(app, vk, clock) -> None:  # noqa: ANN001
    """Without Gemini: a question the KB cannot answer, late at night in Moscow."""
    clock.set(at(23, 40))
    say(app, clock, 504, "Можно ли у вас получить справку для налогового вычета за обучение?")
    sent = vk.emulator.sent(504)[0].text
    assert "завтра после 9:00" in sent and "коллег" in sent and "₽" not in sent
    assert _state(app)[:2] == (True, 1) and vk.emulator.sent(777)
