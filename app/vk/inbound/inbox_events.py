"""The other client events: an edit, "typing…", a callback button press.

Database only (the button's VK answer is sent by the callback view after the commit).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.models import Client, Dialog, Message
from app.vk.inbound.attachments import to_stored
from app.vk.inbound.events import ButtonPress, MessageEdit, TypingState
from app.vk.inbound.inbox import claim_event, inbound_text
from app.vk.keyboards import press_text

log = logging.getLogger(__name__)

# An edit replaces the text of a client message not answered yet (and not being answered).
EDIT_MESSAGE = """
UPDATE messages m SET text = %(text)s, attachments = %(att)s::json, transcribed = %(tr)s
FROM dialogs d
WHERE m.dialog_id = d.id AND m.direction = 'in' AND m.vk_message_id = %(mid)s
  AND d.peer_id = %(peer)s AND m.id > d.answered_upto_id
  AND (d.claimed_turn_id IS NULL OR d.claimed_until < %(now)s)
RETURNING m.id
"""

# "typing…" moves a pending reply later, never past the last message + the cap, and never a
# dialog whose turn is already running. One statement, nothing stored per event.
PUSH_DUE = """
UPDATE dialogs SET reply_due_at = GREATEST(reply_due_at, LEAST(
    %(due)s, last_inbound_at + %(cap)s * interval '1 second'))
WHERE peer_id = %(peer)s AND reply_due_at IS NOT NULL AND claimed_turn_id IS NULL
  AND last_inbound_at IS NOT NULL
RETURNING reply_due_at
"""


def store_edit(conn: Connection, ev: MessageEdit, now: datetime) -> Optional[int]:
    msg = ev.message
    if not msg.id or msg.from_id <= 0 or msg.peer_id != msg.from_id:
        return None  # not a client's own message in a private dialog
    text, transcribed = inbound_text(msg)
    params = {"text": text, "att": json.dumps(to_stored(msg.media), ensure_ascii=False),
              "tr": transcribed, "mid": msg.id, "peer": msg.peer_id, "now": now}
    return conn.exec_driver_sql(EDIT_MESSAGE, params).scalar_one_or_none()


class TypingThrottle:
    """At most one due-time update per peer per `interval` seconds (VK sends "typing" every few
    seconds; a flood of hundreds a second costs a dict lookup each). Bounded memory."""

    def __init__(self, interval: float = 1.0, max_peers: int = 10_000) -> None:
        self.interval, self.max_peers = interval, max_peers
        self._seen: dict[int, float] = {}
        self._lock = threading.Lock()

    def allow(self, peer_id: int) -> bool:
        now = time.monotonic()
        with self._lock:
            last = self._seen.get(peer_id)
            if last is not None and now - last < self.interval:
                return False
            if len(self._seen) >= self.max_peers:
                self._seen.clear()
            self._seen[peer_id] = now
            return True


def push_due(conn: Connection, ev: TypingState, now: datetime, grace_s: float,
             cap_s: float) -> Optional[datetime]:
    if not ev.typing or ev.from_id <= 0:
        return None
    params = {"due": now + timedelta(seconds=grace_s), "cap": cap_s, "peer": ev.from_id}
    return conn.exec_driver_sql(PUSH_DUE, params).scalar_one_or_none()


def store_press(s: Session, ev: ButtonPress, now: datetime, due_s: float) -> Optional[int]:
    """A press of one of our callback buttons becomes the client's message (a turn answers it).
    None: a repeat, a dialog we don't know, or a payload that is not ours."""
    text = press_text(ev.payload)
    if text is None:
        log.warning("vk.inbox message_event %s: payload %r is not one of our buttons",
                    ev.event_id, ev.payload)
        return None
    dialog = s.execute(select(Dialog).join(Client, Client.id == Dialog.client_id).where(
        Client.vk_id == ev.user_id, Dialog.peer_id == ev.peer_id)).scalar_one_or_none()
    if dialog is None:
        log.warning("vk.inbox message_event %s from %s: no dialog with this peer; ignored",
                    ev.event_id, ev.user_id)
        return None
    if not claim_event(s, ev.envelope.event_id or f"press:{ev.event_id}", "message_event"):
        return None
    message = Message(dialog_id=dialog.id, direction="in", source="client", text=text,
                      conversation_message_id=ev.conversation_message_id,
                      attachments=[{"kind": "button", "code": (ev.payload or {}).get("b")}],
                      created_at=now)
    s.add(message)
    dialog.last_inbound_at = now
    due = now + timedelta(seconds=due_s)
    dialog.reply_due_at = due if dialog.reply_due_at is None else min(dialog.reply_due_at, due)
    s.flush()
    return message.id
