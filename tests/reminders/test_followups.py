"""Follow-ups after a silence and consent from VK, against the VK stand-in (a real HTTP server)
with VK's reply window on: one follow-up per silence, inside the window, in waking hours, under
the weekly cap, only with consent; subscriptions for reminders beyond the window."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest
from sqlalchemy import select

from app.composition.background import leader
from app.composition.factory import parts as services
from app.models import (
    AppState,
    Client,
    Dialog,
    Purchase,
    Reminder,
    ReminderStatus,
    Turn,
    TurnKind,
    TurnStatus,
    VkPermission,
    VkSubscription,
)
from app.turns.proactive import fire_due
from tests.helpers import drain, logged_in, post
from tests.vk.test_vk_rich import event, new

MSK = timezone(timedelta(hours=3))
WARM = "Хочу научиться играть на пианино с нуля, какой курс выбрать?"


def tick(app: Any) -> int:
    """One leader round with the production jobs (follow-ups, subscriptions) and firing."""
    sched = leader(services(app))
    try:
        return sched.tick()
    finally:
        sched.lock.release()


def vk_window(vk: Any, clock: Any, peer: int, hours: float = 24) -> None:
    """The stand-in's reply window, mirrored onto its wall clock: the peer wrote now (app time)."""
    vk.emulator.rules.set_reply_window(hours * 3600)
    vk.emulator.rules.note_inbound(peer, datetime.now(timezone.utc))
    vk.start_app_time = clock.now()  # type: ignore[attr-defined]


def advance(vk: Any, clock: Any, peer: int, delta: timedelta) -> None:
    """Move app time; the stand-in's record of the client's message moves back by as much."""
    clock.advance(delta.total_seconds())
    elapsed = clock.now() - vk.start_app_time  # type: ignore[attr-defined]
    vk.emulator.rules.note_inbound(peer, datetime.now(timezone.utc) - elapsed)


def warm_lead(app: Any, vk: Any, clock: Any, peer: int, text: str = WARM,
              window_hours: float = 24) -> None:
    vk_window(vk, clock, peer, window_hours)
    post(app.test_client(), new(peer, text))
    clock.advance(9)
    drain(app)
    assert len(vk.emulator.sent(peer)) == 1  # answered
    with services(app).db.session() as s:
        assert s.execute(select(Client.funnel_stage).where(Client.vk_id == peer)).scalar_one() \
            in ("warm", "hot")


def followups(app: Any, peer: int) -> list[Reminder]:
    with services(app).db.session() as s:
        return list(s.execute(select(Reminder).join(Client).where(
            Client.vk_id == peer, Reminder.kind == "reengage").order_by(Reminder.id)).scalars())


def sends(vk: Any) -> int:
    return vk.emulator.calls("messages.send")


def test_silent_warm_lead_gets_exactly_one_followup_inside_the_window(app, vk, clock) -> None:  # noqa: ANN001
    warm_lead(app, vk, clock, 801)
    advance(vk, clock, 801, timedelta(hours=19, minutes=50))
    tick(app)
    assert len(vk.emulator.sent(801)) == 1  # not yet: 20 h of silence
    advance(vk, clock, 801, timedelta(minutes=11))
    tick(app)
    sent = vk.emulator.sent(801)
    assert len(sent) == 2
    follow = sent[-1]
    assert follow.intent is None and follow.subscribe_id is None  # an ordinary reply
    text = follow.text.lower()
    assert "думаете" not in text and "скидк" not in text and "%" not in text
    for _ in range(3):  # never a second one for the same silence
        advance(vk, clock, 801, timedelta(minutes=30))
        tick(app)
    assert len(vk.emulator.sent(801)) == 2
    [r] = followups(app, 801)
    assert r.status == ReminderStatus.SENT and r.silence_message_id is not None
    assert "молчит" in r.context  # why it was written
    with services(app).db.session() as s:
        turn = s.get(Turn, r.fired_turn_id)
        assert turn.kind == TurnKind.FOLLOWUP and turn.status == TurnStatus.DONE
        assert turn.analysis and turn.reminder_id == r.id
    # the panel: the proactive turn with its analysis and why, and the client's reachability
    c = logged_in(app)
    with services(app).db.session() as s:
        dialog_id = s.execute(select(Dialog.id).join(Client)
                              .where(Client.vk_id == 801)).scalar_one()
    page = c.get(f"/admin/dialogs/{dialog_id}").get_data(as_text=True)
    assert f"Анализ хода #{turn.id}" in page and "после паузы" in page and "молчит" in page
    card = c.get("/admin/clients/801").get_data(as_text=True)
    assert "Окно ответа VK" in card and "Письма после паузы" in card


def test_a_new_silence_after_the_client_writes_earns_a_new_followup(app, vk, clock) -> None:  # noqa: ANN001
    warm_lead(app, vk, clock, 802)
    advance(vk, clock, 802, timedelta(hours=20, minutes=1))
    tick(app)
    assert len(vk.emulator.sent(802)) == 2
    clock.advance(3600)  # the client answers an hour later
    vk_window(vk, clock, 802)
    post(app.test_client(), new(802, "Спасибо! А сколько длится курс с нуля?"))
    clock.advance(9)
    drain(app)
    assert len(vk.emulator.sent(802)) == 3
    advance(vk, clock, 802, timedelta(hours=20, minutes=1))  # 07:32 Moscow: quiet hours
    tick(app)
    assert len(vk.emulator.sent(802)) == 3
    advance(vk, clock, 802, timedelta(hours=1, minutes=30))
    tick(app)
    assert len(vk.emulator.sent(802)) == 4
    assert [r.status for r in followups(app, 802)] == ["sent", "sent"]


def test_window_shorter_than_the_silence_nothing_is_attempted(make_app, vk, clock) -> None:  # noqa: ANN001
    app = make_app(vk_reply_window_hours=12)
    warm_lead(app, vk, clock, 803, window_hours=12)
    before = sends(vk)
    for hours in (11, 20, 21, 30):
        clock.set(datetime(2026, 11, 25, 11, 30, tzinfo=timezone.utc) + timedelta(hours=hours))
        tick(app)
    assert sends(vk) == before  # no send refused with 950: none attempted at all
    assert followups(app, 803) == []


def test_followups_off_and_stages(make_app, vk, clock) -> None:  # noqa: ANN001
    app = make_app(reengage_after_hours="off")
    warm_lead(app, vk, clock, 804)
    advance(vk, clock, 804, timedelta(hours=21))
    tick(app)
    assert followups(app, 804) == []
    cold = make_app(reengage_stages="hot", reengage_after_hours=0.5)
    vk_window(vk, clock, 805)
    post(cold.test_client(), new(805, "Хочу научиться играть на пианино"))  # warm, not hot
    clock.advance(9)
    drain(cold)
    advance(vk, clock, 805, timedelta(hours=1))
    tick(cold)
    assert followups(cold, 805) == []


def _deny(app: Any, peer: int) -> None:
    post(app.test_client(), event("message_deny", {"user_id": peer}))


def _stop_words(app: Any, peer: int) -> None:
    post(app.test_client(), new(peer, "Спасибо, но больше не пишите мне, пожалуйста"))


def _staff(app: Any, peer: int) -> None:
    with services(app).db.session() as s:
        d = s.execute(select(Dialog).join(Client).where(Client.vk_id == peer)).scalar_one()
        d.human_until = d.last_inbound_at + timedelta(hours=30)


def _paused(app: Any, peer: int) -> None:
    with services(app).db.session() as s:
        s.add(AppState(key="bot_paused", value="1"))


def _escalated(app: Any, peer: int) -> None:
    with services(app).db.session() as s:
        s.execute(select(Dialog).join(Client).where(Client.vk_id == peer)).scalar_one() \
            .needs_human = True


def _bought(app: Any, peer: int) -> None:
    with services(app).db.session() as s:
        c = s.execute(select(Client).where(Client.vk_id == peer)).scalar_one()
        s.add(Purchase(order_id=f"o-{peer}", client_id=c.id, product_id="piano-basics",
                       amount_rub=100, paid_at=services(app).clock.now()))


def _agreed(app: Any, peer: int) -> None:
    post(app.test_client(), new(peer, "Давайте вернёмся к этому через неделю"))


@pytest.mark.parametrize("why", [_deny, _stop_words, _staff, _paused, _escalated, _bought,
                                 _agreed])
def test_no_followup_without_consent_or_when_something_else_holds(
        app, vk, clock, why: Callable[[Any, int], None]) -> None:  # noqa: ANN001
    peer = 810 + [_deny, _stop_words, _staff, _paused, _escalated, _bought, _agreed].index(why)
    warm_lead(app, vk, clock, peer)
    why(app, peer)
    clock.advance(9)
    drain(app)
    if why in (_stop_words, _agreed):
        vk_window(vk, clock, peer)  # the client wrote: its window starts again
    before = len(vk.emulator.sent(peer))
    advance(vk, clock, peer, timedelta(hours=20, minutes=5))
    tick(app)
    assert len(vk.emulator.sent(peer)) == before
    assert followups(app, peer) == []


def test_message_deny_stops_every_proactive_message_until_allowed(app, vk, clock) -> None:  # noqa: ANN001
    warm_lead(app, vk, clock, 820)
    _deny(app, 820)
    with services(app).db.session() as s:
        c = s.execute(select(Client).where(Client.vk_id == 820)).scalar_one()
        assert c.vk_permission == VkPermission.DENIED and c.vk_permission_at is not None
        s.add(Reminder(client_id=c.id, kind="followup", due_at=clock.now(), agreed_at=clock.now(),
                       status=ReminderStatus.PENDING, context="созвониться"))
    before = sends(vk)
    fire_due(services(app).turns)
    assert sends(vk) == before  # an agreed reminder is not sent either
    post(app.test_client(), event("message_allow", {"user_id": 820, "key": ""}))
    advance(vk, clock, 820, timedelta(hours=20, minutes=5))
    tick(app)
    assert len(vk.emulator.sent(820)) == 2  # allowed again, still inside the window


def test_followup_respects_quiet_hours(make_app, vk, clock) -> None:  # noqa: ANN001
    app = make_app(quiet_hours="10:00-12:00")
    warm_lead(app, vk, clock, 830)  # wrote Wed 14:30 Moscow
    advance(vk, clock, 830, timedelta(hours=20, minutes=30))  # Thu 11:00 Moscow: quiet
    tick(app)
    assert len(vk.emulator.sent(830)) == 1 and followups(app, 830) == []
    clock.set(datetime(2026, 11, 26, 12, 1, tzinfo=MSK))
    advance(vk, clock, 830, timedelta(0))
    tick(app)
    assert len(vk.emulator.sent(830)) == 2


def test_followup_respects_the_weekly_cap(make_app, vk, clock) -> None:  # noqa: ANN001
    app = make_app(max_proactive_per_week=1)
    warm_lead(app, vk, clock, 840)
    with services(app).db.session() as s:
        d = s.execute(select(Dialog).join(Client).where(Client.vk_id == 840)).scalar_one()
        s.add(Turn(dialog_id=d.id, kind=TurnKind.REMINDER, status=TurnStatus.DONE,
                   upto_message_id=0, attempts=1, started_at=clock.now() - timedelta(days=2),
                   finished_at=clock.now() - timedelta(days=2), flags=[], usage={}, timings={}))
    advance(vk, clock, 840, timedelta(hours=20, minutes=5))
    tick(app)
    assert len(vk.emulator.sent(840)) == 1 and followups(app, 840) == []


def test_vk_refuses_a_followup_with_901_client_marked_unreachable_not_retried(
        app, vk, clock) -> None:  # noqa: ANN001
    warm_lead(app, vk, clock, 850)
    vk.emulator.set_cannot_send(850)
    before = sends(vk)
    advance(vk, clock, 850, timedelta(hours=20, minutes=5))
    tick(app)
    assert sends(vk) == before + 1  # one attempt
    for _ in range(3):
        advance(vk, clock, 850, timedelta(minutes=20))
        tick(app)
    assert sends(vk) == before + 1  # not retried
    with services(app).db.session() as s:
        c = s.execute(select(Client).where(Client.vk_id == 850)).scalar_one()
        assert c.unreachable_at is not None and c.unreachable_code == 901
    page = logged_in(app).get("/admin/clients/850").get_data(as_text=True)
    assert "901" in page


def test_subscribed_client_gets_a_reminder_beyond_the_window_with_its_intent(
        app, vk, clock) -> None:  # noqa: ANN001
    vk_window(vk, clock, 860)
    vk.emulator.rules.require_subscriptions()
    post(app.test_client(), new(860, "Сейчас не могу, напишите мне в следующий понедельник"))
    clock.advance(9)
    drain(app)
    reply = vk.emulator.sent(860)[-1]
    assert '"intent_subscribe"' in (reply.keyboard or "") and '"subscribe_id":1' in \
        (reply.keyboard or "").replace(" ", "")
    vk.emulator.rules.subscribe(860, "confirmed_notification", 1)  # the client pressed it
    tick(app)  # the leader reads the subscription back from VK
    with services(app).db.session() as s:
        sub = s.execute(select(VkSubscription)).scalar_one()
        assert (sub.intent, sub.subscribe_id, sub.subscribed) == ("confirmed_notification", 1, True)
        r = s.execute(select(Reminder).where(Reminder.kind == "followup")).scalar_one()
    clock.set(r.due_at + timedelta(minutes=1))
    advance(vk, clock, 860, timedelta(0))
    tick(app)
    sent = vk.emulator.sent(860)[-1]
    assert (sent.intent, sent.subscribe_id) == ("confirmed_notification", 1)
    page = logged_in(app).get("/admin/clients/860").get_data(as_text=True)
    assert "confirmed_notification" in page


def test_unsubscribed_client_gets_nothing_beyond_the_window_staff_are_told(
        app, vk, clock) -> None:  # noqa: ANN001
    vk_window(vk, clock, 870)
    vk.emulator.rules.require_subscriptions()
    post(app.test_client(), new(870, "Сейчас не могу, напишите мне в следующий понедельник"))
    clock.advance(9)
    drain(app)
    vk.emulator.rules.subscribe(870, "confirmed_notification", 1)
    tick(app)
    vk.emulator.rules.unsubscribe(870, "confirmed_notification", 1)  # intent_unsubscribe
    with services(app).db.session() as s:
        r = s.execute(select(Reminder).where(Reminder.kind == "followup")).scalar_one()
    clock.set(r.due_at + timedelta(minutes=1))
    advance(vk, clock, 870, timedelta(0))
    tick(app)
    assert len(vk.emulator.sent(870)) == 1  # nothing attempted (no 943)
    with services(app).db.session() as s:
        assert s.get(Reminder, r.id).status == ReminderStatus.REFUSED
        assert s.execute(select(VkSubscription.subscribed)).scalar_one() is False
    assert "не пропустил напоминание" in vk.emulator.sent(777)[-1].text


def test_report_counts_followups(app, vk, clock) -> None:  # noqa: ANN001
    import json

    warm_lead(app, vk, clock, 880)
    advance(vk, clock, 880, timedelta(hours=20, minutes=5))
    tick(app)
    clock.advance(3600)
    vk_window(vk, clock, 880)
    post(app.test_client(), new(880, "Да, расскажите про пробные уроки"))
    clock.advance(9)
    drain(app)
    out = app.test_cli_runner().invoke(args=["report", "summary", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["followups"] == {"sent": 1, "replied_within_24h": 1, "became_clients": 0}


def test_the_model_writes_it_with_its_own_prompt_from_the_strategy(make_app, vk, clock) -> None:  # noqa: ANN001
    from tests.fakes.gemini_server import FakeGeminiServer
    from tests.fakes.scripted_model import ScriptedModel

    with FakeGeminiServer() as gemini:
        scripted = ScriptedModel()
        gemini.set_responder(scripted)
        app = make_app(gemini_api_key="test-key", gemini_base_url=gemini.base_url,
                       gemini_timeout_s=3)
        warm_lead(app, vk, clock, 890)
        gemini.requests.clear()
        scripted.replies.append("Добрый день! Первые три урока курса «Фортепиано с нуля» "
                                "открыты бесплатно. Хотите ссылку?")
        advance(vk, clock, 890, timedelta(hours=20, minutes=5))
        tick(app)
        assert vk.emulator.sent(890)[-1].text.startswith("Добрый день! Первые три урока")
        reply = gemini.requests[-1]
        assert "замолчал" in reply.system_text and "вы ещё думаете" in reply.system_text
        assert "помочь выбрать курс" in reply.contents_text  # the analysis' long-term strategy
        assert "молчит" in reply.contents_text


def test_send_paths_by_kind_window_and_subscription() -> None:
    from app.platform.config import Settings
    from app.turns.sending import send_paths

    s, now = Settings(), datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
    inside, outside = now - timedelta(hours=23), now - timedelta(hours=25)
    assert send_paths(s, "followup", inside, now) == [(None, None)]
    assert send_paths(s, "followup", outside, now) == []  # never another intent
    assert send_paths(s, "reminder", inside, now) == [(None, None)]
    assert send_paths(s, "reminder", inside, now, True) == [(None, None),
                                                             ("confirmed_notification", 1)]
    assert send_paths(s, "reminder", outside, now) == []
    assert send_paths(s, "reminder", outside, now, True) == [("confirmed_notification", 1)]
    assert send_paths(s, "access_extension", outside, now) == [("purchase_update", None)]
    assert send_paths(s, "reply", outside, now) == [(None, None)]


def test_settings_of_followups() -> None:
    from pydantic import ValidationError

    from app.platform.config import Settings

    assert Settings(reengage_after_hours="off").reengage_after_hours is None
    assert Settings(reengage_after_hours="1.5").reengage_after_hours == 1.5
    assert Settings(reengage_stages=" Warm, hot ,").reengage_stage_list == ("warm", "hot")
    for bad in ({"reengage_after_hours": "0"}, {"reengage_after_hours": "soon"},
                {"reengage_stages": "warm,lukewarm"}):
        with pytest.raises(ValidationError):
            Settings(**bad)


def test_offline_followup_is_kb_grounded_and_never_nags(app, vk, clock) -> None:  # noqa: ANN001
    warm_lead(app, vk, clock, 895, "Сколько стоит курс «Фортепиано с нуля»?")
    advance(vk, clock, 895, timedelta(hours=20, minutes=5))
    tick(app)
    text = vk.emulator.sent(895)[-1].text
    assert "бесплатно" in text and "Фортепиано с нуля" in text  # from the KB
    assert "думаете" not in text.lower() and "скидк" not in text.lower()
    assert text.rstrip().endswith("?")


def test_a_staff_reply_or_a_held_back_answer_is_not_an_answered_silence(app, vk, clock) -> None:  # noqa: ANN001
    from app.models import Message

    warm_lead(app, vk, clock, 896)
    with services(app).db.session() as s:
        d = s.execute(select(Dialog).join(Client).where(Client.vk_id == 896)).scalar_one()
        s.add(Message(dialog_id=d.id, direction="out", source="staff", text="Напишу вам сама",
                      created_at=clock.now()))
    advance(vk, clock, 896, timedelta(hours=20, minutes=5))
    tick(app)
    assert followups(app, 896) == []


def test_a_nagging_followup_is_caught_by_the_guardrails() -> None:
    from app.brain.contract import Decisions
    from app.brain.guardrails.check import check_reply
    from tests.brain.test_brain_offline import make_ctx

    ctx = make_ctx("Расскажите о курсах")
    nag = "Добрый день! Вы ещё думаете над курсом? Актуально ли ещё?"
    assert check_reply(nag, ctx, Decisions()) == []  # a reply may ask it
    ctx.kind = "followup"
    assert check_reply(nag, ctx, Decisions()) == ["nag"]
    assert check_reply("Добрый день! Первые три урока открыты бесплатно. Прислать ссылку?",
                       ctx, Decisions()) == []


def test_local_chat_subscribe_button_is_recorded_by_the_vk_stand_in(make_app) -> None:  # noqa: ANN001
    app = make_app(local_mode=True, vk_group_token=None, vk_secret=None, vk_group_id=None)
    emulator = services(app).local_vk.emulator
    r = app.test_client().post("/dev/chat/subscribe", json={
        "vk_id": 3300, "intent": "confirmed_notification", "subscribe_id": 1})
    assert r.status_code == 200
    assert emulator.rules.subscribers("confirmed_notification", 1) == [3300]
    assert services(app).channel.intent_users("confirmed_notification", 1) == [3300]
