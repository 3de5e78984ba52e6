"""VK as clients use it, end to end: voice notes, photos, stickers, edits, typing, buttons —
webhook → PostgreSQL → worker → brain (fake Gemini over HTTP, or the offline rules) → fake VK."""
from __future__ import annotations

import itertools
import logging
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.composition.factory import parts as services
from app.models import Client, Dialog, Message, ProcessedEvent, Turn
from tests.fakes.gemini_server import RecordedRequest
from tests.fakes.scripted_model import analysis
from tests.helpers import drain, post

_ids = itertools.count(50_000)
OGG = b"OggS\x00\x02" + b"\x01" * 2000
JPEG = b"\xff\xd8\xff\xe0" + b"\x02" * 3000
INLINE = {"keyboard": True, "inline_keyboard": True,
          "button_actions": ["text", "callback", "open_link", "intent_subscribe"]}


def new(peer: int, text: str = "", attachments: list | None = None, client_info: dict | None = None,
        **extra: Any) -> dict:
    mid = next(_ids)
    message = {"id": mid, "date": 1764070000, "peer_id": peer, "from_id": peer, "text": text,
               "attachments": attachments or [], "conversation_message_id": mid, **extra}
    return {"type": "message_new", "group_id": 1, "event_id": f"rich-{mid}", "secret": "s3cret",
            "object": {"message": message,
                       "client_info": INLINE if client_info is None else client_info}}


def event(etype: str, obj: dict) -> dict:
    return {"type": etype, "group_id": 1, "event_id": f"{etype}-{next(_ids)}", "secret": "s3cret",
            "object": obj}


def voice(url: str | None, duration: int = 6, **extra: Any) -> dict:
    return {"type": "audio_message", "audio_message": {
        "id": 1, "owner_id": 1, "duration": duration, "link_ogg": url,
        "link_mp3": url and url.replace(".ogg", ".mp3"), "waveform": [0, 5, 9], **extra}}


def photo(small: str, big: str) -> dict:
    return {"type": "photo", "photo": {"sizes": [
        {"type": "s", "url": small, "width": 75, "height": 75},
        {"type": "y", "url": big, "width": 1280, "height": 960}]}}


def rows(app: Any, peer: int) -> list[Message]:
    with services(app).db.session() as s:
        return list(s.execute(select(Message).join(Dialog).join(Client).where(
            Client.vk_id == peer).order_by(Message.id)).scalars().all())


def turns(app: Any) -> list[Turn]:
    with services(app).db.session() as s:
        return list(s.execute(select(Turn).order_by(Turn.id)).scalars().all())


def run(app: Any, clock: Any, seconds: float = 9) -> None:
    clock.advance(seconds)
    drain(app)


@pytest.fixture()
def gapp(make_app, gemini, model) -> Any:  # noqa: ANN001
    return make_app(gemini_api_key="test-key", gemini_base_url=gemini.base_url,
                    gemini_timeout_s=3, vk_media_allowed_hosts="127.0.0.1",
                    vk_media_timeout_s=1)


@pytest.fixture()
def oapp(make_app) -> Any:  # noqa: ANN001
    return make_app(vk_media_allowed_hosts="127.0.0.1", vk_media_timeout_s=1)


def inline_parts(req: RecordedRequest) -> list[tuple[str, bytes]]:
    return req.inline_parts


def test_voice_note_goes_to_gemini_inline_and_its_transcript_becomes_the_text(
        gapp, gemini, model, vk, clock) -> None:  # noqa: ANN001
    url = vk.add_file("v1.ogg", OGG, "audio/ogg")
    model.analyses.append(analysis(transcript="Здравствуйте, подойдёт ли курс для взрослых?"))
    model.replies.append("Да, конечно! Курс «Фортепиано с нуля» создан как раз для взрослых.")
    post(gapp.test_client(), new(501, attachments=[voice(url)]))
    run(gapp, clock)
    first, second = gemini.requests
    parts = inline_parts(first)
    assert parts == [("audio/ogg", OGG)]
    assert "transcript" in first.contents_text and "голосовое сообщение 0:06" in first.contents_text
    assert inline_parts(second) == []  # the reply stage reads the transcript, not the audio
    assert "подойдёт ли курс для взрослых" in second.contents_text
    stored = rows(gapp, 501)[0]
    assert stored.transcribed and stored.text.startswith("Здравствуйте, подойдёт ли курс")
    assert vk.emulator.sent(501)[0].text.startswith("Да, конечно!")


def test_photo_is_seen_by_both_stages_at_a_size_that_is_enough(gapp, gemini, model, vk,
                                                                clock) -> None:  # noqa: ANN001
    small = vk.add_file("p-small.jpg", b"\xff\xd8tiny", "image/jpeg")
    big = vk.add_file("p-big.jpg", JPEG, "image/jpeg")
    model.replies.append("Вижу синтезатор на 61 клавишу — для начала обучения он подойдёт.")
    post(gapp.test_client(), new(502, "вот мой синтезатор, подойдёт?", [photo(small, big)]))
    run(gapp, clock)
    for req in gemini.requests:
        assert inline_parts(req) == [("image/jpeg", JPEG)]
    assert "вот мой синтезатор, подойдёт? [фото]" in gemini.requests[0].contents_text
    assert "p-small.jpg" not in vk.file_requests


def test_offline_voice_is_honest_and_flags_staff_vk_transcript_is_used(oapp, vk, clock) -> None:  # noqa: ANN001
    url = vk.add_file("v2.ogg", OGG, "audio/ogg")
    post(oapp.test_client(), new(503, attachments=[voice(url)]))
    run(oapp, clock)
    reply = vk.emulator.sent(503)[-1].text
    assert "прослушать" in reply and "текстом" in reply
    assert "v2.ogg" not in vk.file_requests  # no model to hear it: not downloaded
    assert "voice_unheard" in turns(oapp)[-1].flags
    post(oapp.test_client(), new(504, attachments=[voice(url, transcript="сколько стоит курс с нуля",
                                                         transcript_state="done")]))
    run(oapp, clock)
    stored = rows(oapp, 504)[0]
    assert stored.transcribed and stored.text == "сколько стоит курс с нуля"
    reply = vk.emulator.sent(504)[-1].text
    assert "прослушать" not in reply and "₽" in reply  # answered the transcribed question


def test_long_voice_is_not_downloaded_and_the_reply_asks_for_shorter(gapp, gemini, vk,
                                                                      clock) -> None:  # noqa: ANN001
    url = vk.add_file("v-long.ogg", OGG, "audio/ogg")
    post(gapp.test_client(), new(505, attachments=[voice(url, duration=900)]))
    run(gapp, clock)
    assert "v-long.ogg" not in vk.file_requests
    assert all(r.inline_parts == [] for r in gemini.requests)
    assert "слишком длинное" in gemini.requests[0].contents_text
    assert "voice_too_long" in turns(gapp)[-1].flags


@pytest.mark.parametrize("name, kw", [("huge.ogg", {"stream_size": 40_000_000}),
                                      ("hang.ogg", {"delay_s": 3, "data": OGG}),
                                      ("missing", None)])
def test_bad_downloads_still_answer_the_text(gapp, model, vk, clock, caplog, name,
                                             kw) -> None:  # noqa: ANN001
    oapp = gapp
    model.replies.append("Курс «Фортепиано с нуля» стоит 14 900 ₽.")
    url = vk.add_file(name, **kw) if kw else vk.files_url + "/nothing-here.ogg"
    caplog.set_level(logging.WARNING)
    peer = 510 + len(name)
    response = post(oapp.test_client(), new(peer, "Сколько стоит курс с нуля?", [voice(url)]))
    assert response.status_code == 200
    started = time.monotonic()
    run(oapp, clock)
    assert time.monotonic() - started < 10
    assert "₽" in vk.emulator.sent(peer)[-1].text
    assert any("not loaded" in r.getMessage() for r in caplog.records)
    assert rows(oapp, peer)[0].text == "Сколько стоит курс с нуля?"  # nothing wrongly stored


def test_sticker_alone_is_answered_and_notes_reach_history(oapp, vk, clock) -> None:  # noqa: ANN001
    post(oapp.test_client(), new(520, attachments=[{"type": "sticker", "sticker": {"id": 1}}]))
    post(oapp.test_client(), new(520, attachments=[{"type": "superfeature", "x": {}}]))
    run(oapp, clock)
    assert len(vk.emulator.sent(520)) == 1 and vk.emulator.sent(520)[0].text
    out = oapp.test_cli_runner().invoke(args=["clients", "show", "520", "--json"])
    assert out.exit_code == 0


def test_edit_before_the_reply_updates_the_text_after_it_does_not(oapp, vk, clock) -> None:  # noqa: ANN001
    body = new(530, "Сколько стоит курс для детй")
    post(oapp.test_client(), body)
    edited = dict(body["object"]["message"], text="Сколько стоит курс для детей?")
    assert post(oapp.test_client(), event("message_edit", edited)).status_code == 200
    assert rows(oapp, 530)[0].text == "Сколько стоит курс для детей?"
    run(oapp, clock)
    again = dict(edited, text="совсем другой текст")
    assert post(oapp.test_client(), event("message_edit", again)).status_code == 200
    assert rows(oapp, 530)[0].text == "Сколько стоит курс для детей?"


def due(app: Any, peer: int) -> Any:
    with services(app).db.session() as s:
        return s.execute(select(Dialog.reply_due_at).join(Client).where(
            Client.vk_id == peer)).scalar_one()


def test_typing_moves_the_reply_later_capped_and_a_flood_is_cheap(oapp, vk, clock) -> None:  # noqa: ANN001
    client = oapp.test_client()
    post(client, new(540, "Здравствуйте"))
    first_due = due(oapp, 540)
    typing = event("message_typing_state", {"from_id": 540, "to_id": -1, "state": "typing"})
    clock.advance(6)
    assert post(client, typing).status_code == 200
    assert due(oapp, 540) > first_due
    with services(oapp).db.session() as s:
        events_before = s.execute(select(func.count()).select_from(ProcessedEvent)).scalar_one()
    started = time.monotonic()
    for i in range(300):
        clock.advance(0.5)
        time.sleep(0.004) if i % 60 == 0 else None
        assert post(client, dict(typing, event_id=f"t-{i}")).status_code == 200
    assert time.monotonic() - started < 15
    with services(oapp).db.session() as s:
        events_after = s.execute(select(func.count()).select_from(ProcessedEvent)).scalar_one()
    assert events_after == events_before  # nothing stored per typing event
    post(client, event("message_typing_state", {"from_id": 540, "state": "typing"}))
    assert due(oapp, 540) - first_due <= timedelta(seconds=60 - 8)  # ≤ last message + 60 s
    post(client, new(540, "и второй вопрос: сколько стоит курс?"))
    run(oapp, clock, 9)
    assert len(vk.emulator.sent(540)) == 1  # one reply for the whole burst


def test_panel_shows_thumbnails_notes_and_transcripts(oapp, vk, clock) -> None:  # noqa: ANN001
    from tests.helpers import panel_login as login

    small = vk.add_file("panel-s.jpg", b"\xff\xd8s", "image/jpeg")
    big = vk.add_file("panel-b.jpg", JPEG, "image/jpeg")
    post(oapp.test_client(), new(560, "вот мой синтезатор", [
        photo(small, big), {"type": "sticker", "sticker": {}}]))
    post(oapp.test_client(), new(560, attachments=[voice(None, transcript="хочу учиться",
                                                         transcript_state="done")]))
    run(oapp, clock)
    c = oapp.test_client()
    login(c)
    page = c.get(f"/admin/dialogs/{rows(oapp, 560)[0].dialog_id}").get_data(as_text=True)
    assert f'src="{big}"' in page or f'src="{small}"' in page
    assert "[стикер]" in page and "расшифровка голосового" in page and "хочу учиться" in page


def test_image_documents_are_shown_other_documents_only_named(gapp, gemini, vk, clock) -> None:  # noqa: ANN001
    png = b"\x89PNG\r\n\x1a\n" + b"\x03" * 500
    shot = vk.add_file("error.png", png, "image/png")
    pdf = vk.add_file("contract.pdf", b"%PDF-1.4", "application/pdf")
    post(gapp.test_client(), new(570, "вот скриншот ошибки оплаты", [
        {"type": "doc", "doc": {"title": "error.png", "ext": "png", "size": 508, "url": shot}},
        {"type": "doc", "doc": {"title": "договор.pdf", "ext": "pdf", "size": 8, "url": pdf}}]))
    run(gapp, clock)
    assert gemini.requests[0].inline_parts == [("image/png", png)]
    assert "[документ: договор.pdf]" in gemini.requests[0].contents_text
    assert "contract.pdf" not in vk.file_requests


def test_offline_acknowledges_photos_and_asks_what_a_lone_photo_is_about(oapp, vk, clock) -> None:  # noqa: ANN001
    big = vk.add_file("off-b.jpg", JPEG, "image/jpeg")
    post(oapp.test_client(), new(580, "Сколько стоит курс с нуля?", [photo(big, big)]))
    post(oapp.test_client(), new(581, attachments=[photo(big, big)]))
    run(oapp, clock)
    with_text, alone = vk.emulator.sent(580)[-1].text, vk.emulator.sent(581)[-1].text
    assert "фото" in with_text.lower() and "₽" in with_text  # acknowledged, and the text answered
    assert "фото" in alone.lower() and "что бы вы хотели узнать" in alone


def test_offline_brain_answers_a_vk_transcript_like_the_same_words_typed(oapp, vk, clock) -> None:  # noqa: ANN001
    import re

    words = "сколько стоит детский курс"
    post(oapp.test_client(), new(505, text=words))
    post(oapp.test_client(), new(506, attachments=[voice(None, transcript=words,
                                                         transcript_state="done")]))
    run(oapp, clock)
    prices = [set(re.findall(r"\d[\d  ]*₽", vk.emulator.sent(p)[-1].text)) for p in (505, 506)]
    assert prices[0] and prices[0] == prices[1]


def test_malformed_attachment_url_is_skipped_not_a_failed_turn(gapp, model, vk,
                                                               clock) -> None:  # noqa: ANN001
    """Issue 20.5: `https://[vk.com/x` raised ValueError out of the media loader on every try."""
    model.replies.append("Курс «Фортепиано с нуля» стоит 14 900 ₽.")
    post(gapp.test_client(), new(540, "Сколько стоит курс с нуля?",
                                 [photo("https://[vk.com/s.jpg", "https://[vk.com/y.jpg"),
                                  voice("https://[127.0.0.1/v.ogg")]))
    run(gapp, clock)
    assert "₽" in vk.emulator.sent(540)[-1].text
    turn = turns(gapp)[-1]
    assert turn.status == "done" and "media_failed:image" in turn.flags
