"""Issue 16.6: no exception from an effect (resolver, card facts, sales policy) fails a turn:
the effect is rolled back and flagged, the other effects stand, the reply still goes out."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.composition.factory import parts as services
from app.models import Client, Dialog, Reminder, Turn
from tests.helpers import drain, message_new, post

PEER = 6901


def _broken(exc: Exception) -> Any:
    def raise_(*_a: Any, **_k: Any) -> Any:
        raise exc
    return raise_


@pytest.mark.parametrize("target,effect,text", [
    ("app.reminders.service.resolve", "follow_up", "напишите мне завтра в 10 утра"),
    ("app.crm.cards.apply_facts", "card_facts", "Меня зовут Ольга, хочу научиться играть"),
    # the offline brain requests an offer only for a chosen product whose price is the blocker
    ("app.crm.sales.decide", "sales_policy", "Хочу курс «Фортепиано с нуля», но 14 900 дорого"),
])
def test_a_failing_effect_is_flagged_and_the_reply_goes_out(app: Any, clock: Any, vk: Any,
                                                            monkeypatch: Any, target: str,
                                                            effect: str, text: str) -> None:
    monkeypatch.setattr(target, _broken(ValueError("year 12026 is out of range")))
    post(app.test_client(), message_new(PEER, text))
    clock.advance(10)
    drain(app)
    with services(app).db.session() as s:
        turn = s.execute(select(Turn).order_by(Turn.id.desc())).scalars().first()
        dialog = s.execute(select(Dialog).where(Dialog.peer_id == PEER)).scalar_one()
        assert turn.status == "done", (turn.status, turn.error)
        assert f"effect_error:{effect}" in turn.flags
        assert dialog.reply_due_at is None
    assert len(vk.emulator.sent(PEER)) == 1


def test_the_other_effects_stand_when_one_fails(app: Any, clock: Any, vk: Any,
                                                monkeypatch: Any) -> None:
    monkeypatch.setattr("app.reminders.service.resolve", _broken(OverflowError("date value")))
    post(app.test_client(), message_new(PEER, "Мой телефон +7 912 000-11-22. Напишите мне завтра "
                                              "в 10 утра"))
    clock.advance(10)
    drain(app)
    with services(app).db.session() as s:
        client = s.execute(select(Client).where(Client.vk_id == PEER)).scalar_one()
        assert client.phone == "+79120001122"  # card facts kept
        assert s.execute(select(Reminder)).first() is None  # the failed effect left nothing
    assert len(vk.emulator.sent(PEER)) == 1
