"""Storing what VK tells us: inbound messages, permissions, the community's own replies.

Called by the callback view (and by the local chat page) inside the request: database only,
no VK or model call. Every function is idempotent for a repeated event.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.models import Client, Dialog, Message, ProcessedEvent
from app.vk.events import MessageNew, MessagePermission, MessageReply, VkMessage

log = logging.getLogger(__name__)
INBOUND_VK_ID = text("direction = 'in' AND vk_message_id IS NOT NULL")


@dataclass(frozen=True)
class InboxSettings:
    debounce_seconds: float
    handoff_pause_hours: float
    default_timezone: str = "Europe/Moscow"


def claim_event(s: Session, event_id: Optional[str], etype: str) -> bool:
    """Record an event id; False when it was seen before (a VK retry)."""
    if not event_id:
        return True
    row = s.execute(
        insert(ProcessedEvent).values(event_id=event_id, type=etype)
        .on_conflict_do_nothing(index_elements=["event_id"]).returning(ProcessedEvent.event_id)
    ).first()
    return row is not None


def ensure_client(s: Session, vk_id: int, tz: str) -> Client:
    s.execute(insert(Client).values(vk_id=vk_id, timezone=tz, tags=[])
              .on_conflict_do_nothing(index_elements=["vk_id"]))
    return s.execute(select(Client).where(Client.vk_id == vk_id)).scalar_one()


def ensure_dialog(s: Session, client: Client, peer_id: int) -> Dialog:
    s.execute(insert(Dialog).values(client_id=client.id, peer_id=peer_id)
              .on_conflict_do_nothing(index_elements=["client_id"]))
    return s.execute(select(Dialog).where(Dialog.client_id == client.id)).scalar_one()


def upsert_client_id(s: Session, vk_id: int, tz: str) -> int:
    """The client's id, creating the row on first contact (one statement)."""
    return s.execute(
        insert(Client).values(vk_id=vk_id, timezone=tz, tags=[])
        .on_conflict_do_update(index_elements=["vk_id"], set_={"vk_id": vk_id})
        .returning(Client.id)).scalar_one()


def store_inbound(s: Session, ev: MessageNew, now: datetime, cfg: InboxSettings) -> Optional[int]:
    """Store a client's message and mark the dialog "reply due". Returns the message id.

    The webhook's hot path: three statements (client upsert, dialog upsert that also sets the
    due time, message insert that a unique index makes idempotent per VK message id)."""
    msg = ev.message
    if msg.peer_id <= 0 or msg.peer_id >= 2_000_000_000 or msg.from_id <= 0:
        log.info("vk.inbox ignored message from peer %s (not a private dialog)", msg.peer_id)
        return None
    client_id = upsert_client_id(s, msg.from_id, cfg.default_timezone)
    due = now + timedelta(seconds=cfg.debounce_seconds)
    dialog_id = s.execute(
        insert(Dialog).values(client_id=client_id, peer_id=msg.peer_id, reply_due_at=due,
                              last_inbound_at=now)
        .on_conflict_do_update(index_elements=["client_id"],
                               set_={"reply_due_at": due, "last_inbound_at": now})
        .returning(Dialog.id)).scalar_one()
    return s.execute(
        insert(Message).values(dialog_id=dialog_id, direction="in", source="client",
                               text=msg.text, vk_message_id=msg.id or None,
                               conversation_message_id=msg.conversation_message_id,
                               attachments=msg.attachments, created_at=now)
        .on_conflict_do_nothing(index_elements=["vk_message_id"],
                                index_where=INBOUND_VK_ID)
        .returning(Message.id)).scalar_one_or_none()


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
    if is_our_message(s, msg):
        return False
    client = s.execute(select(Client).where(Client.vk_id == msg.peer_id)).scalar_one_or_none()
    if client is None:
        client = ensure_client(s, msg.peer_id, cfg.default_timezone)
    dialog = ensure_dialog(s, client, msg.peer_id)
    if msg.id and s.execute(select(Message.id).where(Message.vk_message_id == msg.id)).first():
        return False
    s.add(Message(dialog_id=dialog.id, direction="out", source="staff", text=msg.text,
                  vk_message_id=msg.id or None, random_id=msg.random_id or None,
                  admin_author_id=msg.admin_author_id, attachments=msg.attachments,
                  created_at=now))
    dialog.human_until = now + timedelta(hours=cfg.handoff_pause_hours)
    dialog.last_outbound_at = now
    log.info("vk.inbox staff reply in dialog %s: bot paused until %s", dialog.id,
             dialog.human_until.isoformat())
    return True


def store_permission(s: Session, ev: MessagePermission, cfg: InboxSettings) -> None:
    client = ensure_client(s, ev.user_id, cfg.default_timezone)
    client.can_write = ev.allowed
