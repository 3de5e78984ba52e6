"""Buttons (inline keyboards, callback presses, text-button presses) and VK's reply window and
intents (a refused reminder is marked, staff are told, the next turn owns up to it)."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select

from app.composition.factory import parts as services
from app.models import Client, Reminder, ReminderStatus, Turn
from app.turns.proactive import fire_due
from tests.helpers import post
from tests.vk.test_vk_rich import event, new, rows, run

MSK = timezone(timedelta(hours=3))


def keyboard(sent: Any) -> list[dict]:
    data = json.loads(sent.keyboard) if sent.keyboard else {"buttons": []}
    assert data.get("inline", True) is True
    return [b["action"] for row in data["buttons"] for b in row]


def test_reply_offers_one_to_three_code_chosen_buttons_only_to_apps_that_show_them(
        app, vk, clock) -> None:  # noqa: ANN001
    post(app.test_client(), new(601, "Хочу научиться играть на пианино с нуля, какой курс выбрать?"))
    post(app.test_client(), new(602, "Хочу научиться играть на пианино с нуля, какой курс выбрать?",
                                client_info={"keyboard": True, "inline_keyboard": False}))
    run(app, clock)
    buttons = keyboard(vk.emulator.sent(601)[-1])
    assert 1 <= len(buttons) <= 3 and all(len(b["label"]) <= 40 for b in buttons)
    assert {b["type"] for b in buttons} <= {"callback", "open_link", "intent_subscribe"}
    for b in buttons:
        if b["type"] == "callback":
            assert len(b["payload"]) <= 255
        if b["type"] == "open_link":
            assert b["link"].startswith("https://")
    assert vk.emulator.sent(602)[-1].keyboard is None  # the app cannot show inline keyboards
    post(app.test_client(), new(601, "А сколько по времени длится курс?"))
    run(app, clock)
    assert vk.emulator.sent(601)[-1].keyboard is None  # not on every message


def press(peer: int, payload: Any, user: int | None = None) -> dict:
    return event("message_event", {"user_id": user or peer, "peer_id": peer,
                                   "event_id": f"ev{peer}x", "payload": payload,
                                   "conversation_message_id": 3})


def test_callback_press_is_answered_and_starts_a_turn(app, vk, clock) -> None:  # noqa: ANN001
    post(app.test_client(), new(610, "Здравствуйте"))
    run(app, clock)
    assert post(app.test_client(), press(610, {"b": "pick"})).status_code == 200
    answers = vk.emulator.event_answers()
    assert [(a.event_id, a.user_id, a.peer_id) for a in answers] == [("ev610x", 610, 610)]
    assert rows(app, 610)[-1].text == "Помогите, пожалуйста, подобрать курс"
    run(app, clock, 2)
    assert len(vk.emulator.sent(610)) == 2  # the press was answered like a message
    before = len(rows(app, 610))
    post(app.test_client(), press(610, {"b": "pick"}) | {"event_id": "same"})
    post(app.test_client(), press(610, {"b": "pick"}) | {"event_id": "same"})
    assert len(rows(app, 610)) == before + 1  # a repeated event is stored once


def test_text_button_press_is_a_message(app, vk, clock) -> None:  # noqa: ANN001
    post(app.test_client(), new(611, "Подобрать курс", payload='{"b": "pick"}'))
    run(app, clock)
    assert len(vk.emulator.sent(611)) == 1


def test_bad_presses_store_nothing_and_never_5xx(app, vk, clock, caplog) -> None:  # noqa: ANN001
    caplog.set_level(logging.WARNING)
    post(app.test_client(), new(620, "Привет"))
    run(app, clock)
    client = app.test_client()
    for body in (press(99_999, {"b": "pick"}), press(620, "not json"),
                 press(620, {"b": "x" * 10_000}), press(620, {"b": "unknown-code"}),
                 press(620, ["a", "list"])):
        assert post(client, body).status_code == 200
    assert post(client, event("message_event", {"user_id": "x"})).status_code == 400
    assert post(client, b"{not json").status_code == 400
    assert len(rows(app, 620)) == 2  # the greeting and its reply only
    with services(app).db.session() as s:
        assert s.execute(select(func.count()).select_from(Client)).scalar_one() == 1
    assert any("no dialog with this peer" in r.getMessage() for r in caplog.records)
    assert any("not one of our buttons" in r.getMessage() for r in caplog.records)


def agree(app: Any, clock: Any, peer: int, text: str) -> Reminder:
    post(app.test_client(), new(peer, text))
    run(app, clock)
    with services(app).db.session() as s:
        return s.execute(select(Reminder).join(Client).where(Client.vk_id == peer)
                         .order_by(Reminder.id.desc())).scalars().first()


def test_refused_reminder_is_marked_staff_told_and_next_turn_owns_up(app, vk, clock) -> None:  # noqa: ANN001
    r = agree(app, clock, 630, "Давайте завтра вечером обсудим")
    offered = keyboard(vk.emulator.sent(630)[-1])
    assert any(b["type"] == "intent_subscribe" and b["intent"] == "confirmed_notification"
               for b in offered)  # the reply confirming the later contact offers subscription
    vk.emulator.rules.set_reply_window(24 * 3600)
    vk.emulator.rules.note_inbound(630, datetime.now(timezone.utc) - timedelta(days=2))
    vk.emulator.rules.require_subscriptions()
    calls = vk.emulator.calls("messages.send")
    clock.set(r.due_at + timedelta(minutes=1))
    assert fire_due(services(app).turns) == 1
    # outside the window and not subscribed: nothing is attempted, only the manager is told
    assert vk.emulator.calls("messages.send") - calls == 1
    with services(app).db.session() as s:
        done = s.get(Reminder, r.id)
        assert done.status == ReminderStatus.REFUSED and done.vk_error_code is None
        assert done.refused_at == r.due_at + timedelta(minutes=1)  # the moment it fired
        assert "не отправлялось" in done.status_reason
    alert = vk.emulator.sent(777)[-1].text
    assert "не пропустил напоминание" in alert and "vk.com" in alert
    out = app.test_cli_runner().invoke(args=["reminders", "list"])
    assert f"#{r.id}" in out.output and "VK отказал" in out.output
    assert fire_due(services(app).turns) == 0  # not retried blindly
    from tests.helpers import logged_in

    page = logged_in(app).get("/admin/clients/630").get_data(as_text=True)
    assert "VK отказал" in page and "не отправлялось" in page
    vk.emulator.rules.note_inbound(630)  # the client wrote: VK's window opens again
    post(app.test_client(), new(630, "Здравствуйте, вы так и не написали"))
    run(app, clock)
    assert "как договаривались" in vk.emulator.sent(630)[-1].text
    post(app.test_client(), new(630, "Хорошо, спасибо"))
    run(app, clock)
    assert "как договаривались" not in vk.emulator.sent(630)[-1].text  # owned up once


def test_window_closed_at_vk_falls_back_to_the_subscribed_intent(app, vk, clock) -> None:  # noqa: ANN001
    r = agree(app, clock, 640, "Сейчас неудобно, напишите мне через час")
    assert r is not None
    vk.emulator.rules.set_reply_window(60)
    vk.emulator.rules.note_inbound(640, datetime.now(timezone.utc) - timedelta(hours=2))
    vk.emulator.rules.require_subscriptions()
    vk.emulator.rules.subscribe(640, "confirmed_notification", 1)  # pressed our button
    clock.set(r.due_at + timedelta(minutes=1))
    assert fire_due(services(app).turns) == 1
    sent = vk.emulator.sent(640)[-1]
    assert (sent.intent, sent.subscribe_id) == ("confirmed_notification", 1)
    with services(app).db.session() as s:
        assert s.get(Reminder, r.id).status == ReminderStatus.SENT


def test_replies_use_the_default_intent(app, vk, clock) -> None:  # noqa: ANN001
    post(app.test_client(), new(650, "Здравствуйте"))
    run(app, clock)
    assert vk.emulator.sent(650)[-1].intent is None


def test_a_refused_reply_calls_a_person(app, vk, clock) -> None:  # noqa: ANN001
    vk.emulator.rules.set_reply_window(1)
    vk.emulator.rules.note_inbound(660, datetime.now(timezone.utc) - timedelta(hours=30))
    post(app.test_client(), new(660, "Здравствуйте"))
    run(app, clock)
    with services(app).db.session() as s:
        turn = s.execute(select(Turn).order_by(Turn.id.desc())).scalars().first()
        assert turn.status == "undeliverable" and "vk_refused:950" in turn.flags
    assert "не пропустил ответ" in vk.emulator.sent(777)[-1].text


def test_a_slow_vk_does_not_hold_the_callback(app, vk, clock) -> None:  # noqa: ANN001
    import time

    post(app.test_client(), new(670, "Здравствуйте"))
    run(app, clock)
    vk.emulator.set_latency(4)
    started = time.monotonic()
    assert post(app.test_client(), press(670, {"b": "manager"})).status_code == 200
    assert time.monotonic() - started < 3.5
    assert rows(app, 670)[-1].text == "Позовите, пожалуйста, менеджера"
    vk.emulator.set_latency(0)
