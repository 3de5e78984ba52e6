"""Typed parsing of VK Callback API bodies (API v5.199 shapes).

`parse_event(body)` turns a decoded JSON body into one typed event or raises `EventError`
with a reason that is safe to log and to return as a 400.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union

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
class OtherEvent:
    envelope: Envelope


Event = Union[Confirmation, MessageNew, MessageReply, MessagePermission, OtherEvent]


def _int(value: Any, name: str, required: bool = True) -> Optional[int]:
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
    if "\x00" in value:
        raise EventError(f"{name}: contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EventError(f"{name}: not valid Unicode") from exc
    return value


def _str(value: Any, name: str, limit: int = 200) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise EventError(f"{name}: must be a string")
    if len(value) > limit:
        raise EventError(f"{name}: too long")
    return _clean_text(value, name)


def parse_envelope(body: Any) -> Envelope:
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


def _attachments(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise EventError("object.message.attachments: must be a list")
    return [a for a in value[:20] if isinstance(a, dict)]


def parse_message(obj: Any, where: str) -> VkMessage:
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
    )


def parse_event(body: Any) -> Event:
    env = parse_envelope(body)
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
    return OtherEvent(env)
