"""Issue 16.5: a reminder's turn claims the dialog like a reply (one turn per dialog at a time),
and a reminder never crosses the client's new message («не пишите мне больше»)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.composition.factory import parts as services
from app.models import Client, Dialog, Reminder, Turn
from app.turns import proactive
from app.turns.proactive import fire_due
from tests.helpers import drain, message_new, post

PEER = 7001


def _agree(app: Any, clock: Any) -> int:
    post(app.test_client(), message_new(PEER, "Напишите мне через час, пожалуйста"))
    clock.advance(9)
    drain(app)
    with services(app).db.session() as s:
        return s.execute(select(Reminder.id).join(Client).where(Client.vk_id == PEER)).scalar_one()


def test_no_reply_turn_runs_beside_a_reminder_turn(app: Any, clock: Any, vk: Any,
                                                   monkeypatch: Any) -> None:
    rid = _agree(app, clock)
    clock.advance(3600 + 60)
    sent_before = len(vk.emulator.sent(PEER))
    during: dict[str, Any] = {}
    real = proactive.process_claim

    def client_writes_meanwhile(svc: Any, claim: Any) -> str:
        post(app.test_client(), message_new(PEER, "Не пишите мне больше, пожалуйста"))
        clock.advance(9)
        during["replies_run"] = drain(app)  # a worker tries the dialog while the reminder runs
        with services(app).db.session() as s:
            during["claimed_by"] = s.execute(select(Dialog.claimed_turn_id).where(
                Dialog.peer_id == PEER)).scalar_one()
        return real(svc, claim)

    monkeypatch.setattr(proactive, "process_claim", client_writes_meanwhile)
    fire_due(services(app).turns)
    with services(app).db.session() as s:
        r = s.get(Reminder, rid)
        assert during == {"replies_run": 0, "claimed_by": r.fired_turn_id}
        assert s.get(Turn, r.fired_turn_id).status == "silent"  # not sent over the new message
        assert r.status != "sent"
    assert len(vk.emulator.sent(PEER)) == sent_before
    monkeypatch.setattr(proactive, "process_claim", real)
    assert drain(app) == 1  # the reply to «не пишите» runs once the dialog is free
    with services(app).db.session() as s:
        assert s.execute(select(Dialog.claimed_turn_id).where(
            Dialog.peer_id == PEER)).scalar_one() is None


def test_a_reminder_waits_while_a_reply_holds_the_dialog(app: Any, clock: Any, vk: Any) -> None:
    rid = _agree(app, clock)
    clock.advance(3600 + 60)
    with services(app).db.session() as s:  # a reply turn holds the dialog (claimed, not due)
        d = s.execute(select(Dialog).where(Dialog.peer_id == PEER)).scalar_one()
        turn = Turn(dialog_id=d.id, kind="reply", status="running", upto_message_id=0,
                    attempts=1, started_at=clock.now(), flags=[], usage={}, timings={})
        s.add(turn)
        s.flush()
        d.claimed_turn_id, d.claimed_until = turn.id, clock.now() + timedelta(seconds=30)
    fire_due(services(app).turns)
    with services(app).db.session() as s:
        r = s.get(Reminder, rid)
        assert r.status == "pending" and "in progress" in r.status_reason
