"""Issue 16.10: a reply held back by a pause or handoff after it was written is marked unsent:
it never appears in later prompts (history, summary, "new client") as if it had been sent."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.composition.factory import parts as services
from app.models import Client, Dialog, Message
from app.turns.context import _history, card_from_client
from tests.helpers import HookedBrain, drain, message_new, post

PEER = 7101


def test_a_reply_held_back_by_a_handoff_is_not_history(make_app: Any, clock: Any,
                                                       vk: Any) -> None:
    def staff_take_over_while_the_model_thinks(ctx: Any) -> None:
        with services(app).db.session() as s:
            dialog = s.execute(select(Dialog).where(Dialog.peer_id == PEER)).scalar_one()
            dialog.human_until = clock.now() + timedelta(hours=2)

    app = make_app(primary_brain=HookedBrain(after_reply=staff_take_over_while_the_model_thinks))
    post(app.test_client(), message_new(PEER, "Здравствуйте! Сколько стоит курс?"))
    clock.advance(10)
    drain(app)
    assert vk.emulator.sent(PEER) == []
    with services(app).db.session() as s:
        held = s.execute(select(Message).where(Message.direction == "out")).scalars().all()
        assert held and all(m.held_back and m.vk_message_id is None for m in held)
        dialog = s.execute(select(Dialog).where(Dialog.peer_id == PEER)).scalar_one()
        history = _history(s, dialog.id, 10 ** 9, 50)
        assert [h.direction for h in history] == ["in"]
        client = s.execute(select(Client).where(Client.vk_id == PEER)).scalar_one()
        card = card_from_client(s, client, clock.now(), services(app).kb_store.current)
        assert card.is_new  # nothing was ever sent to this client
    c = app.test_client()
    c.get("/admin/login")
    with c.session_transaction() as sess:
        tok = sess["csrf_token"]
    c.post("/admin/login", data={"password": "admin-pass", "csrf_token": tok})
    page = c.get(f"/admin/dialogs/{dialog.id}").get_data(as_text=True)
    assert "не отправлено (пауза)" in page
