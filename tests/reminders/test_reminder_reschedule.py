"""Issue 16.4: a failed or skipped reminder rescheduled by staff is really sent at the new
time (it starts a new turn instead of finding its old finished one)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.composition.factory import parts as services
from app.models import Client, Reminder, Turn
from app.turns.proactive import fire_due
from tests.helpers import drain, logged_in, message_new, post

PEER = 6401



def test_rescheduled_undelivered_reminder_is_sent_with_a_new_turn(app: Any, clock: Any,
                                                                  vk: Any) -> None:
    post(app.test_client(), message_new(PEER, "напишите мне через час, пожалуйста"))
    clock.advance(9)
    drain(app)
    with services(app).db.session() as s:
        rid = s.execute(select(Reminder.id).join(Client).where(Client.vk_id == PEER)).scalar_one()
    clock.advance(3600 + 60)
    vk.emulator.fail_next("messages.send", 901)  # the client closed messages for a moment
    fire_due(services(app).turns)
    with services(app).db.session() as s:
        r = s.get(Reminder, rid)
        old_turn = r.fired_turn_id
        assert r.status == "skipped" and old_turn is not None
    post(app.test_client(), {"type": "message_allow", "group_id": 1, "secret": "s3cret",
                             "event_id": "allow-6401", "object": {"user_id": PEER, "key": ""}})
    c = logged_in(app)
    with c.session_transaction() as sess:
        tok = sess["csrf_token"]
    when = clock.now().astimezone(ZoneInfo("Europe/Moscow")) + timedelta(hours=2)
    due_local = when.strftime("%Y-%m-%dT%H:%M")
    r = c.post(f"/admin/clients/{PEER}/reminders/{rid}/reschedule",
               data={"csrf_token": tok, "due_local": due_local})
    assert r.status_code == 302
    sent_before = len(vk.emulator.sent(PEER))
    clock.advance(3 * 3600)
    fire_due(services(app).turns)
    with services(app).db.session() as s:
        r = s.get(Reminder, rid)
        assert r.status == "sent", r.status_reason
        assert r.fired_turn_id not in (None, old_turn)
        assert s.get(Turn, r.fired_turn_id).status == "done"
    assert len(vk.emulator.sent(PEER)) == sent_before + 1
