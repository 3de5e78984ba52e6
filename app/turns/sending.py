"""Sending one part through the channel under VK's rules for communities.

A reply to the client's message uses the default intent. A proactive send (reminder, access
extension) uses the default intent inside VK's reply window and the intent configured for its
kind outside it (or when VK says the window has closed) — an intent that needs the client's
subscription only when the client subscribed. A follow-up after a silence has only the default
intent inside the window: outside it there is no path and nothing is attempted. 950/943/944 are
not retried blindly: at most these two paths, then `VkRefused` goes up to the caller.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Optional

from app.models import TurnKind
from app.platform.config import SUBSCRIPTION_INTENTS, Settings
from app.vk.channel import OutboundChannel, OutboundMessage
from app.vk.errors import VkRefused

log = logging.getLogger(__name__)
Path = tuple[Optional[str], Optional[int]]  # (intent, subscribe_id); None = VK's default


def configured_intent(settings: Settings, kind: str) -> Path:
    intent = settings.vk_intent_access_extension if kind == TurnKind.ACCESS_EXTENSION \
        else settings.vk_intent_reminder
    if intent == "default":
        return None, None
    return intent, settings.vk_subscribe_id if intent == "confirmed_notification" else None


def needs_subscription(path: Path) -> bool:
    return path[0] in SUBSCRIPTION_INTENTS


def send_paths(settings: Settings, kind: str, last_inbound_at: Optional[datetime],
               now: datetime, subscribed: bool = False) -> list[Path]:
    """The intents to try in order; empty: VK would refuse every one (nothing is attempted)."""
    if kind == TurnKind.REPLY:
        return [(None, None)]
    window = timedelta(hours=settings.vk_reply_window_hours)
    inside = last_inbound_at is not None and now - last_inbound_at < window
    if kind == TurnKind.FOLLOWUP:
        return [(None, None)] if inside else []
    own = configured_intent(settings, kind)
    mine = [own] if subscribed or not needs_subscription(own) else []
    paths = [(None, None)] + mine if inside else mine
    return list(dict.fromkeys(paths))


def send_part(channel: OutboundChannel, message: OutboundMessage, paths: list[Path]) -> list[int]:
    """Send along the first path VK accepts; raise the last `VkRefused` if none does."""
    refused: Optional[VkRefused] = None
    for intent, subscribe_id in paths:
        try:
            return channel.send(OutboundMessage(message.peer_id, message.text, message.random_id,
                                                message.keyboard, intent, subscribe_id))
        except VkRefused as exc:
            log.warning("vk refused a send to %s with intent %s: %s (code %s)", message.peer_id,
                        intent or "default", exc, exc.code)
            refused = exc
    assert refused is not None
    raise refused
