"""Typed parsing of VK Callback API bodies (API v5.199 shapes).

`parse_event(body)` turns a decoded JSON body into one typed event or raises `EventError`
with a reason that is safe to log and to return as a 400.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from app.platform.textsafe import storable
from app.vk.inbound.attachments import Media, parse_attachments, quoted

log = logging.getLogger(__name__)
MAX_PAYLOAD = 255  # VK's limit for a button payload; anything longer is not from our buttons
MAX_TEXT = 9_000  # VK sends at most 4 096 characters (its schema allows 9 000): more is not VK


class EventError(ValueError):
    """The body is not a VK event we can use (the reason says why)."""


@dataclass(frozen=True)
class Envelope:
    type: str
    group_id: Optional[int]
    event_id: Optional[str]
    secret: Optional[str]


@dataclass(frozen=True)
class VkMessage:
    id: int
    peer_id: int
    from_id: int
    text: str
    date: int
    conversation_message_id: Optional[int] = None
    random_id: Optional[int] = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    admin_author_id: Optional[int] = None
    media: list[Media] = field(default_factory=list)  # typed attachments, forwards, the quote
    payload: Optional[dict[str, Any]] = None  # a text button's payload (validated JSON object)


@dataclass(frozen=True)
class Confirmation:
    envelope: Envelope


@dataclass(frozen=True)
class MessageNew:
    envelope: Envelope
    message: VkMessage
    client_info: dict[str, Any]


@dataclass(frozen=True)
class MessageReply:
    envelope: Envelope
    message: VkMessage


@dataclass(frozen=True)
class MessagePermission:
    envelope: Envelope
    user_id: int
    allowed: bool


@dataclass(frozen=True)
class MessageEdit:
    envelope: Envelope
    message: VkMessage


@dataclass(frozen=True)
class TypingState:
    envelope: Envelope
    from_id: int
    typing: bool


@dataclass(frozen=True)
class ButtonPress:
    """`message_event`: a callback button was pressed (answer within a minute)."""

    envelope: Envelope
    user_id: int
    peer_id: int
    event_id: str
    payload: Optional[dict[str, Any]]
    conversation_message_id: Optional[int] = None


@dataclass(frozen=True)
class OtherEvent:
    envelope: Envelope


Event = Union[Confirmation, MessageNew, MessageReply, MessagePermission, MessageEdit,
              TypingState, ButtonPress, OtherEvent]


def _int(value: object, name: str, required: bool = True) -> Optional[int]:
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise EventError(f"{name}: must be an integer")
    try:
        number = int(value)
    except ValueError as exc:
        raise EventError(f"{name}: must be an integer") from exc
    if abs(number) >= 2**63:
        raise EventError(f"{name}: out of range")
    return number


def _clean_text(value: str, name: str) -> str:
    """PostgreSQL stores neither NUL nor lone surrogates: refuse them (VK never sends them)."""
    if not storable(value):
        raise EventError(f"{name}: contains a NUL character" if "\x00" in value
                         else f"{name}: not valid Unicode")
    return value


def _str(value: object, name: str, limit: int = 200) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise EventError(f"{name}: must be a string")
    if len(value) > limit:
        raise EventError(f"{name}: too long")
    return _clean_text(value, name)


def parse_envelope(body: object) -> Envelope:
    if not isinstance(body, dict):
        raise EventError("body: must be a JSON object")
    etype = _str(body.get("type"), "type", 50)
    if not etype:
        raise EventError("type: missing")
    return Envelope(
        type=etype,
        group_id=_int(body.get("group_id"), "group_id", required=False),
        event_id=_str(body.get("event_id"), "event_id", 100),
        secret=_str(body.get("secret"), "secret", 200),
    )


def _attachments(value: object) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise EventError("object.message.attachments: must be a list")
    return [a for a in value[:20] if isinstance(a, dict)]


def parse_payload(value: object, where: str) -> Optional[dict[str, Any]]:
    """A button payload: a JSON object (VK sends a string for text buttons, an object for
    callback ones) of at most MAX_PAYLOAD characters. Anything else is logged and dropped: the
    message itself is still handled."""
    if value is None or value == "":
        return None
    raw = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False) \
        if isinstance(value, dict) else None
    if raw is None or len(raw) > MAX_PAYLOAD:
        log.warning("vk.events %s.payload dropped: %s", where,
                    "too long (%d chars)" % len(raw) if raw else "not a JSON object")
        return None
    try:
        data = json.loads(raw) if isinstance(value, str) else value
    except (ValueError, RecursionError):
        log.warning("vk.events %s.payload dropped: not JSON", where)
        return None
    if not isinstance(data, dict):
        log.warning("vk.events %s.payload dropped: not a JSON object", where)
        return None
    return data


def _media(obj: dict[str, Any]) -> list[Media]:
    items = parse_attachments(obj.get("attachments"))
    fwd = obj.get("fwd_messages")
    for inner in (fwd[:5] if isinstance(fwd, list) else []):
        q = quoted(inner, reply=False)
        if q is not None:
            items.append(q)
    reply = quoted(obj.get("reply_message"), reply=True)
    return items + ([reply] if reply is not None else [])


def parse_message(obj: object, where: str) -> VkMessage:
    if not isinstance(obj, dict):
        raise EventError(f"{where}: must be an object")
    text = obj.get("text", "")
    if not isinstance(text, str):
        raise EventError(f"{where}.text: must be a string")
    if len(text) > MAX_TEXT:
        raise EventError(f"{where}.text: too long")
    text = _clean_text(text, f"{where}.text")
    return VkMessage(
        id=_int(obj.get("id", 0), f"{where}.id") or 0,
        peer_id=_int(obj.get("peer_id"), f"{where}.peer_id"),  # type: ignore[arg-type]
        from_id=_int(obj.get("from_id"), f"{where}.from_id"),  # type: ignore[arg-type]
        text=text,
        date=_int(obj.get("date", 0), f"{where}.date") or 0,
        conversation_message_id=_int(obj.get("conversation_message_id"),
                                     f"{where}.conversation_message_id", required=False),
        random_id=_int(obj.get("random_id"), f"{where}.random_id", required=False),
        attachments=_attachments(obj.get("attachments")),
        admin_author_id=_int(obj.get("admin_author_id"), f"{where}.admin_author_id",
                             required=False),
        media=_media(obj), payload=parse_payload(obj.get("payload"), where),
    )


def parse_event(body: object) -> Event:
    env = parse_envelope(body)
    assert isinstance(body, dict), "parse_envelope rejects anything but a JSON object"
    obj = body.get("object")
    if env.type == "confirmation":
        return Confirmation(env)
    if env.type == "message_new":
        if not isinstance(obj, dict):
            raise EventError("object: must be an object")
        info = obj.get("client_info")
        return MessageNew(env, parse_message(obj.get("message"), "object.message"),
                          info if isinstance(info, dict) else {})
    if env.type == "message_reply":
        return MessageReply(env, parse_message(obj, "object"))
    if env.type in ("message_allow", "message_deny"):
        if not isinstance(obj, dict):
            raise EventError("object: must be an object")
        user_id = _int(obj.get("user_id"), "object.user_id")
        return MessagePermission(env, user_id, env.type == "message_allow")  # type: ignore[arg-type]
    if env.type == "message_edit":
        return MessageEdit(env, parse_message(obj, "object"))
    if env.type == "message_typing_state":
        return _typing(env, obj)
    if env.type == "message_event":
        return _button_press(env, obj)
    return OtherEvent(env)


def _typing(env: Envelope, obj: object) -> TypingState:
    if not isinstance(obj, dict):
        raise EventError("object: must be an object")
    from_id = _int(obj.get("from_id"), "object.from_id")
    # "typing" or "audiomessage" (recording a voice note): either way, more is coming
    return TypingState(env, from_id,  # type: ignore[arg-type]
                       obj.get("state") in ("typing", "audiomessage"))


def _button_press(env: Envelope, obj: object) -> ButtonPress:
    if not isinstance(obj, dict):
        raise EventError("object: must be an object")
    event_id = _str(obj.get("event_id"), "object.event_id", 200)
    if not event_id:
        raise EventError("object.event_id: missing")
    return ButtonPress(
        env, user_id=_int(obj.get("user_id"), "object.user_id"),  # type: ignore[arg-type]
        peer_id=_int(obj.get("peer_id"), "object.peer_id"),  # type: ignore[arg-type]
        event_id=event_id, payload=parse_payload(obj.get("payload"), "object"),
        conversation_message_id=_int(obj.get("conversation_message_id"),
                                     "object.conversation_message_id", required=False))
