"""Parsing what clients send (attachments, forwards, quotes, payloads, new event types), the
keyboards we build, and bounded downloads from the local VK stand-in's file server."""
from __future__ import annotations

import json
import time

import pytest

from app.vk import keyboards
from app.vk.inbound.attachments import (
    Doc,
    Link,
    Photo,
    Quoted,
    Sticker,
    Unknown,
    Voice,
    WallPost,
    from_stored,
    to_stored,
    with_notes,
)
from app.vk.inbound.events import ButtonPress, MessageEdit, MessageNew, TypingState, parse_event
from app.vk.media import MediaError, MediaLimits, fetch, host_allowed

SIZES = [{"type": "s", "url": "https://sun9-1.userapi.com/s.jpg", "width": 75, "height": 56},
         {"type": "z", "url": "https://sun9-1.userapi.com/z.jpg", "width": 2560, "height": 1920},
         {"type": "x", "url": "https://sun9-1.userapi.com/x.jpg", "width": 604, "height": 453},
         {"type": "y", "url": "https://sun9-1.userapi.com/y.jpg", "width": 1280, "height": 960},
         {"type": "w", "url": "https://sun9-1.userapi.com/w.jpg", "width": 10000, "height": 7500}]


def body(message: dict, etype: str = "message_new") -> dict:
    obj = {"message": message, "client_info": {"inline_keyboard": True}} \
        if etype == "message_new" else message
    return {"type": etype, "group_id": 1, "event_id": "e1", "secret": "s", "object": obj}


def msg(**over: object) -> dict:
    base = {"id": 5, "peer_id": 42, "from_id": 42, "text": "", "date": 1, "attachments": []}
    base.update(over)
    return base


def test_every_attachment_kind_becomes_a_typed_object_and_a_note() -> None:
    atts = [
        {"type": "audio_message", "audio_message": {
            "duration": 75, "link_ogg": "https://psv4.userapi.com/a.ogg",
            "link_mp3": "https://psv4.userapi.com/a.mp3", "waveform": [1] * 128,
            "transcript": "Здравствуйте, сколько стоит курс?", "transcript_state": "done"}},
        {"type": "photo", "photo": {"sizes": SIZES}},
        {"type": "doc", "doc": {"title": "чек.pdf", "ext": "pdf", "size": 1000,
                                "url": "https://vk.com/doc1"}},
        {"type": "sticker", "sticker": {"sticker_id": 9}},
        {"type": "wall", "wall": {"text": "Новый курс аккордов стартует в понедельник, "
                                          "успейте записаться по ранней цене до пятницы"}},
        {"type": "link", "link": {"url": "https://example.org", "title": "Статья о нотах"}},
        {"type": "hologram", "hologram": {"x": 1}},
        "not a dict", {"no": "type"},
    ]
    event = parse_event(body(msg(attachments=atts, fwd_messages=[
        {"text": "Мой сын хочет учиться", "attachments": []}],
        reply_message={"text": "Курс стоит 14 900 ₽"})))
    assert isinstance(event, MessageNew)
    kinds = [type(m) for m in event.message.media]
    assert kinds == [Voice, Photo, Doc, Sticker, WallPost, Link, Unknown, Quoted, Quoted]
    voice, photo = event.message.media[0], event.message.media[1]
    assert voice.transcript == "Здравствуйте, сколько стоит курс?" and voice.duration == 75
    assert photo.url.endswith("/y.jpg") and photo.width == 1280  # by width: not 75 px, not 10k
    assert photo.thumb_url.endswith("/x.jpg")
    text = with_notes("вот", event.message.media)
    for note in ("[голосовое сообщение 1:15: «Здравствуйте, сколько стоит курс?»]", "[фото]",
                 "[документ: чек.pdf]", "[стикер]",
                 "[репост: Новый курс аккордов", "[ссылка: Статья о нотах]",
                 "[вложение: hologram]", "[пересланное сообщение: Мой сын хочет учиться]",
                 "[ответ на сообщение: Курс стоит 14 900 ₽]"):
        assert note in text
    assert from_stored(to_stored(event.message.media)) == event.message.media
    assert "waveform" not in json.dumps(to_stored(event.message.media))


def test_unfinished_vk_transcript_is_not_a_transcript_and_broken_urls_are_dropped() -> None:
    event = parse_event(body(msg(attachments=[
        {"type": "audio_message", "audio_message": {"duration": 3, "link_ogg": "javascript:x",
                                                    "transcript": "черн", "transcript_state":
                                                    "in_progress"}},
        {"type": "photo", "photo": {"sizes": [{"url": 5}, {"width": 100}]}}])))
    voice, photo = event.message.media
    assert voice.transcript is None and voice.url_ogg is None
    assert photo.url is None


@pytest.mark.parametrize("payload, expected", [
    ('{"b": "pick"}', {"b": "pick"}), ("not json", None), ('["list"]', None),
    ('{"b": "' + "x" * 10_000 + '"}', None), (12, None)])
def test_text_button_payloads_are_validated_and_the_message_survives(payload, expected) -> None:  # noqa: ANN001
    event = parse_event(body(msg(text="Подобрать курс", payload=payload)))
    assert event.message.payload == expected and event.message.text == "Подобрать курс"


def test_new_event_types() -> None:
    edit = parse_event(body(msg(text="исправлено"), "message_edit"))
    assert isinstance(edit, MessageEdit) and edit.message.text == "исправлено"
    typing = parse_event(body({"from_id": 42, "to_id": -1, "state": "typing"},
                              "message_typing_state"))
    assert isinstance(typing, TypingState) and typing.typing and typing.from_id == 42
    press = parse_event(body({"user_id": 42, "peer_id": 42, "event_id": "abc",
                              "payload": {"b": "manager"}, "conversation_message_id": 7},
                             "message_event"))
    assert isinstance(press, ButtonPress) and keyboards.press_text(press.payload)
    assert keyboards.press_text({"b": "nope"}) is None and keyboards.press_text(None) is None


def test_keyboards_stay_within_vk_limits() -> None:
    long_title = "Очень длинное название курса, которое не помещается в одну кнопку VK"
    kb = json.loads(keyboards.build([
        keyboards.open_link(f"Подробнее: {long_title}", "https://filimonov-piano.ru/s-nulya"),
        keyboards.callback("pick"), keyboards.subscribe("confirmed_notification", 1, "Напомнить"),
        keyboards.callback("manager")]))
    assert kb["inline"] is True and len(kb["buttons"]) == 3  # at most three next steps
    actions = [row[0]["action"] for row in kb["buttons"]]
    assert all(len(a["label"]) <= 40 for a in actions)
    assert [a["type"] for a in actions] == ["open_link", "callback", "intent_subscribe"]
    assert len(actions[1]["payload"]) <= 255 and json.loads(actions[1]["payload"]) == {"b": "pick"}
    assert actions[2]["subscribe_id"] == 1
    assert keyboards.build([]) is None


def limits(**over: object) -> MediaLimits:
    values = dict(allowed_hosts=("127.0.0.1",), max_bytes=1000, timeout_s=1.0)
    values.update(over)
    return MediaLimits(**values)  # type: ignore[arg-type]


def test_host_rules() -> None:
    vk_hosts = ("userapi.com", "vk.com")
    assert host_allowed("https://sun9-1.userapi.com/a.jpg", vk_hosts)
    assert not host_allowed("http://sun9-1.userapi.com/a.jpg", vk_hosts)  # https only
    assert not host_allowed("https://userapi.com.evil.example/a.jpg", vk_hosts)
    assert not host_allowed("https://evil.example/?u=vk.com", vk_hosts)
    assert not host_allowed("file:///etc/passwd", vk_hosts)


def test_bounded_downloads(vk) -> None:  # noqa: ANN001
    ok = vk.add_file("ok.jpg", b"\xff\xd8jpeg", "image/jpeg")
    assert fetch(ok, limits()) == b"\xff\xd8jpeg"
    huge = vk.add_file("huge.bin", stream_size=50_000_000)
    started = time.monotonic()
    with pytest.raises(MediaError, match="over the limit"):
        fetch(huge, limits())
    hang = vk.add_file("hang.ogg", b"x", delay_s=5)
    with pytest.raises(MediaError, match="download failed"):
        fetch(hang, limits(timeout_s=0.5))
    assert time.monotonic() - started < 4
    with pytest.raises(MediaError, match="HTTP 404"):
        fetch(vk.files_url + "/missing.jpg", limits())
    with pytest.raises(MediaError, match="not an allowed"):
        fetch(ok, limits(allowed_hosts=("userapi.com",)))
    with pytest.raises(MediaError, match="no URL"):
        fetch(None, limits())


def test_a_voice_note_beside_text_keeps_vks_transcript_in_its_note() -> None:
    event = parse_event(body(msg(text="и ещё вопрос", attachments=[
        {"type": "audio_message", "audio_message": {"duration": 4, "transcript": "сколько стоит",
                                                    "transcript_state": "done"}}])))
    assert with_notes(event.message.text, event.message.media) == \
        "и ещё вопрос [голосовое сообщение 0:04: «сколько стоит»]"


def test_media_note_names_files_unheard_voice_and_missed_agreements() -> None:
    from datetime import datetime, timezone

    from app.brain.contract import ClientCard, MediaPart, TurnContext
    from app.brain.prompts.media import media_note

    ctx = TurnContext(turn_id=1, now=datetime.now(timezone.utc), card=ClientCard(vk_id=1),
                      new_messages=[], history=[], summary="", kb=None, kb_index=None,
                      media=[MediaPart("voice", "audio/ogg", b"x", "голосовое сообщение 0:05"),
                             MediaPart("image", "image/jpeg", b"y", "фото")],
                      unheard_voice=["голосовое сообщение 9:00: слишком длинное"],
                      missed_agreements=["в пятницу: рассказать о курсе"])
    analysis_note, reply_note = media_note(ctx, "analysis"), media_note(ctx, "reply")
    assert "1) голосовое сообщение 0:05; 2) фото" in analysis_note and "transcript" in analysis_note
    assert "0:05" not in reply_note and "1) фото" in reply_note
    assert "слишком длинное" in reply_note and "рассказать о курсе" in reply_note
