"""Intent subscriptions read back from VK. A client subscribes by pressing the reply's
`intent_subscribe` button (and leaves with `intent_unsubscribe`); VK's Callback API sends no
event for either (its schema lists none), so the list `messages.getIntentUsers` returns is the
truth: it is stored by the leader every few minutes and again just before a reminder that may
need it is sent."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Optional

from sqlalchemy.orm import Session

from app.platform.config import Settings
from app.platform.db import Database
from app.reminders import consent
from app.turns.sending import Path, configured_intent, needs_subscription
from app.vk.channel import OutboundChannel, UnconfiguredChannel
from app.vk.errors import VkError

log = logging.getLogger(__name__)


def subscription_paths(settings: Settings) -> list[Path]:
    """The (intent, subscribe_id) pairs our proactive kinds use that need a subscription."""
    paths = [configured_intent(settings, kind) for kind in ("reminder", "access_extension")]
    return [p for p in dict.fromkeys(paths) if needs_subscription(p)]


def refresh(channel: OutboundChannel, s: Session, path: Path, now: datetime) -> bool:
    """Store VK's current subscribers of `path`; False (stored state kept) when VK fails."""
    intent, subscribe_id = path
    assert intent is not None
    try:
        users = channel.intent_users(intent, subscribe_id)
    except (VkError, AttributeError) as exc:
        log.warning("messages.getIntentUsers(%s, %s) failed: %s", intent, subscribe_id, exc)
        return False
    changed = consent.store_intent_users(s, intent, subscribe_id, users, now)
    if changed:
        log.info("intent subscriptions %s/%s: %d client(s) changed", intent, subscribe_id,
                 changed)
    return True


def sync_all(channel: OutboundChannel, db: Database, settings: Settings, now: datetime) -> int:
    """The leader's job: refresh every subscription intent we use. Returns how many."""
    if isinstance(channel, UnconfiguredChannel):
        return 0  # no VK token: nothing to read
    done = 0
    for path in subscription_paths(settings):
        with db.session() as s:
            done += refresh(channel, s, path, now)
    return done


def is_subscribed(s: Session, settings: Settings, client_id: int, kind: str) -> bool:
    intent, subscribe_id = configured_intent(settings, kind)
    return intent is not None and consent.is_subscribed(s, client_id, intent, subscribe_id)


def refresh_for(channel: OutboundChannel, s: Session, settings: Settings, kind: str,
                now: datetime) -> Optional[bool]:
    """Before a proactive send of `kind`: refresh its subscription list if it needs one."""
    path = configured_intent(settings, kind)
    return refresh(channel, s, path, now) if needs_subscription(path) else None
