"""Storing what VK tells us: inbound messages, permissions, the community's own replies.

Called by the callback view (and by the local chat page) inside the request: database only,
no VK or model call. Every function is idempotent for a repeated event.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Optional, cast

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.orm import Session

from app.models import Client, Dialog, Message, ProcessedEvent
from app.platform.config import Settings
from app.vk.inbound.attachments import Voice, to_stored
from app.vk.inbound.events import MessageNew, MessagePermission, MessageReply, VkMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboxSettings:
    debounce_seconds: float
    handoff_pause_hours: float
    default_timezone: str = "Europe/Moscow"
    manager_ids: frozenset[int] = frozenset()

    @classmethod
    def of(cls, settings: Settings) -> "InboxSettings":
        return cls(debounce_seconds=settings.debounce_seconds,
                   handoff_pause_hours=settings.handoff_pause_hours,
                   default_timezone=settings.school_timezone,
                   manager_ids=frozenset(settings.manager_ids))


def claim_event(s: Session, event_id: Optional[str], etype: str) -> bool:
    """Record an event id; False when it was seen before (a VK retry)."""
    if not event_id:
        return True
    row = s.execute(
        insert(ProcessedEvent).values(event_id=event_id, type=etype)
        .on_conflict_do_nothing(index_elements=["event_id"]).returning(ProcessedEvent.event_id)
    ).first()
    return row is not None


# VK re-delivers an event it got no "ok" for a few times within minutes; days are a wide margin
EVENT_MEMORY = timedelta(days=3)
PRUNE_BATCH = 10_000


def prune_events(s: Session, now: datetime, keep: timedelta = EVENT_MEMORY) -> int:
    """Forget processed event ids older than VK's retry window (one bounded batch)."""
    old = select(ProcessedEvent.event_id).where(
        ProcessedEvent.received_at < now - keep).limit(PRUNE_BATCH).scalar_subquery()
    done = s.execute(delete(ProcessedEvent).where(ProcessedEvent.event_id.in_(old)))
    return cast("CursorResult[Any]", done).rowcount or 0  # a DELETE's result has a rowcount


def ensure_client(s: Session, vk_id: int, tz: str) -> Client:
    s.execute(insert(Client).values(vk_id=vk_id, timezone=tz, tags=[])
              .on_conflict_do_nothing(index_elements=["vk_id"]))
    return s.execute(select(Client).where(Client.vk_id == vk_id)).scalar_one()


def ensure_dialog(s: Session, client: Client, peer_id: int) -> Dialog:
    s.execute(insert(Dialog).values(client_id=client.id, peer_id=peer_id)
              .on_conflict_do_nothing(index_elements=["client_id"]))
    return s.execute(select(Dialog).where(Dialog.client_id == client.id)).scalar_one()


# The webhook's hot path as ONE statement: dedupe the event, upsert client and dialog (with the
# "reply due" mark), insert the message (idempotent per VK message id). Parsing and compiling an
# ORM statement per step cost ~4 ms a request; this costs one round trip.
STORE_MESSAGE_NEW = """
WITH ev AS (
  INSERT INTO processed_events (event_id, type, received_at)
  SELECT %(eid)s, 'message_new', %(now)s WHERE %(eid)s IS NOT NULL
  ON CONFLICT (event_id) DO NOTHING RETURNING 1 AS ok
), go AS (
  SELECT 1 AS ok WHERE %(eid)s IS NULL OR EXISTS (SELECT 1 FROM ev)
), c AS (
  INSERT INTO clients (vk_id, timezone, tags, vk_capabilities)
  SELECT %(vk)s, %(tz)s, '[]'::json, COALESCE(%(caps)s::json, '{}'::json) FROM go
  ON CONFLICT (vk_id) DO UPDATE SET can_write = true,  -- who writes may be answered
    unreachable_at = NULL, unreachable_code = NULL,
    vk_capabilities = COALESCE(%(caps)s::json, clients.vk_capabilities) RETURNING id
), d AS (
  INSERT INTO dialogs (client_id, peer_id, reply_due_at, last_inbound_at)
  SELECT id, %(peer)s, %(due)s, %(now)s FROM c
  ON CONFLICT (client_id) DO UPDATE
    SET reply_due_at = EXCLUDED.reply_due_at, last_inbound_at = EXCLUDED.last_inbound_at
  RETURNING id
)
INSERT INTO messages (dialog_id, direction, source, text, vk_message_id, conversation_message_id,
                      attachments, transcribed, created_at)
SELECT id, 'in', 'client', %(text)s, %(mid)s, %(cmid)s, %(att)s::json, %(tr)s, %(now)s FROM d
ON CONFLICT (vk_message_id) WHERE direction = 'in' AND vk_message_id IS NOT NULL DO NOTHING
RETURNING id
"""


def store_message_new(conn: Connection, ev: MessageNew, now: datetime,
                      cfg: InboxSettings) -> Optional[int]:
    """Store a client's message once and mark the dialog "reply due" (one round trip).

    Returns the message id, or None for a repeated event or message, or a non-private peer."""
    msg = ev.message
    if msg.peer_id <= 0 or msg.peer_id >= 2_000_000_000 or msg.from_id <= 0:
        log.info("vk.inbox ignored message from peer %s (not a private dialog)", msg.peer_id)
        return None
    if forged_peer(msg):
        return None
    text, transcribed = inbound_text(msg)
    caps = capabilities(ev.client_info)
    params = {"eid": ev.envelope.event_id, "now": now, "vk": msg.from_id,
              "tz": cfg.default_timezone, "peer": msg.peer_id,
              "due": now + timedelta(seconds=cfg.debounce_seconds), "text": text,
              "mid": msg.id or None, "cmid": msg.conversation_message_id,
              "att": json.dumps(to_stored(msg.media), ensure_ascii=False), "tr": transcribed,
              "caps": json.dumps(caps) if caps else None}
    return conn.exec_driver_sql(STORE_MESSAGE_NEW, params).scalar_one_or_none()


def forged_peer(msg: VkMessage) -> bool:
    """In a private dialog VK always sends peer_id == from_id. A message claiming one sender and
    another peer would hijack the sender's dialog (replies, card data and names go to the other
    peer): it is refused (logged, not stored; the callback still answers "ok", so VK does not
    send it again)."""
    if msg.peer_id == msg.from_id:
        return False
    log.warning("vk.inbox refused message_new %s: peer %s is not its sender from_id %s",
                msg.id, msg.peer_id, msg.from_id)
    return True


def inbound_text(msg: VkMessage) -> tuple[str, bool]:
    """The text to store: the client's words, or VK's transcript of a voice note sent alone."""
    voice = next((m for m in msg.media if isinstance(m, Voice)), None)
    if not msg.text.strip() and voice is not None and voice.transcript:
        return voice.transcript, True
    return msg.text, False


def capabilities(client_info: dict[str, Any]) -> Optional[dict[str, Any]]:
    """What the client's app can show, from `client_info` (None when VK sent none)."""
    if not client_info:
        return None
    actions = client_info.get("button_actions")
    return {"keyboard": client_info.get("keyboard") is True,
            "inline_keyboard": client_info.get("inline_keyboard") is True,
            "button_actions": [a for a in actions if isinstance(a, str)][:20]
            if isinstance(actions, list) else []}


def is_our_message(s: Session, msg: VkMessage) -> bool:
    conds = []
    if msg.random_id:
        conds.append(Message.random_id == msg.random_id)
    if msg.id:
        conds.append(Message.vk_message_id == msg.id)
    if not conds:
        return False
    # Any outbound row we stored before sending (bot replies, alerts, panel messages by staff)
    return s.execute(select(Message.id).where(
        Message.direction == "out", or_(*conds)).limit(1)).first() is not None


def store_reply(s: Session, ev: MessageReply, now: datetime, cfg: InboxSettings) -> bool:
    """A message the community sent. If the bot did not send it, a person did: hand off."""
    msg = ev.message
    if is_our_message(s, msg) or msg.peer_id in cfg.manager_ids:
        return False  # our own message, or one to a manager (alerts): not a staff takeover
    client = s.execute(select(Client).where(Client.vk_id == msg.peer_id)).scalar_one_or_none()
    if client is None:
        client = ensure_client(s, msg.peer_id, cfg.default_timezone)
    dialog = ensure_dialog(s, client, msg.peer_id)
    if msg.id and s.execute(select(Message.id).where(Message.vk_message_id == msg.id)).first():
        return False
    s.add(Message(dialog_id=dialog.id, direction="out", source="staff", text=msg.text,
                  vk_message_id=msg.id or None, random_id=msg.random_id or None,
                  admin_author_id=msg.admin_author_id, attachments=to_stored(msg.media),
                  created_at=now))
    dialog.human_until = now + timedelta(hours=cfg.handoff_pause_hours)
    dialog.last_outbound_at = now
    log.info("vk.inbox staff reply in dialog %s: bot paused until %s", dialog.id,
             dialog.human_until.isoformat())
    return True


def store_permission(s: Session, ev: MessagePermission, cfg: InboxSettings,
                     now: Optional[datetime] = None) -> None:
    """message_allow / message_deny: stored on the client (a denied client gets nothing
    proactive until it allows messages again)."""
    client = ensure_client(s, ev.user_id, cfg.default_timezone)
    client.set_vk_permission(ev.allowed, now or datetime.now(timezone.utc))
