"""Issue 16.7: a staff correction sent with the same form key (Back, edit, Send) is really sent
and stored; a real repeat of the same text is shown as already sent and not sent twice."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.composition.factory import parts as services
from app.models import Dialog, Message
from tests.helpers import drain, logged_in, message_new, post

PEER = 6301



def _send(c: Any, dialog_id: int, text: str, key: str) -> str:
    with c.session_transaction() as sess:
        tok = sess["csrf_token"]
    r = c.post(f"/admin/dialogs/{dialog_id}/send",
               data={"csrf_token": tok, "text": text, "send_key": key}, follow_redirects=True)
    assert r.status_code == 200
    return r.get_data(as_text=True)


def test_edited_resend_with_the_same_key_reaches_the_client(app: Any, clock: Any, vk: Any) -> None:
    post(app.test_client(), message_new(PEER, "Позовите человека"))
    clock.advance(10)
    drain(app)
    with services(app).db.session() as s:
        dialog_id = s.execute(select(Dialog.id).where(Dialog.peer_id == PEER)).scalar_one()
    c = logged_in(app)
    before = len(vk.emulator.sent(PEER))
    assert "Отправлено" in _send(c, dialog_id, "Курс стоит 14900 ₽", "form-1")
    page = _send(c, dialog_id, "Поправка: курс стоит 12900 ₽", "form-1")  # Back, edit, Send
    assert "Отправлено" in page
    texts = [m.text for m in vk.emulator.sent(PEER)[before:]]
    assert texts == ["Курс стоит 14900 ₽", "Поправка: курс стоит 12900 ₽"]
    with services(app).db.session() as s:
        stored = s.execute(select(Message.text).where(Message.source == "staff")
                           .order_by(Message.id)).scalars().all()
    assert stored == texts
    repeat = _send(c, dialog_id, "Поправка: курс стоит 12900 ₽", "form-1")  # a real repeat
    assert "уже отправлено" in repeat
    assert len(vk.emulator.sent(PEER)) == before + 2
