"""POST /vk/callback — the VK Callback API endpoint. Thin: parse, authenticate, store, "ok"."""
from __future__ import annotations

import hmac
import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Optional

from flask import Blueprint, Flask, Response, request
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from app.platform.clock import Clock
from app.platform.config import Settings
from app.platform.db import Database
from app.platform.deps import deps_of, install
from app.vk.channel import OutboundChannel
from app.vk.errors import VkError
from app.vk.inbound import inbox, inbox_events
from app.vk.inbound.events import (
    ButtonPress,
    Confirmation,
    Envelope,
    MessageEdit,
    MessageNew,
    MessagePermission,
    MessageReply,
    OtherEvent,
    TypingState,
    parse_event,
)

log = logging.getLogger(__name__)
bp = Blueprint("vk", __name__)
MAX_BODY = 256 * 1024
PRESS_DUE_S = 1.0
ANSWER_WAIT_S = 2.0  # a button press is a complete message: answer it almost at once
_typing = inbox_events.TypingThrottle()


@dataclass(frozen=True)
class CallbackDeps:
    """What the callback uses: it stores and wakes, it never runs a turn."""

    settings: Settings
    db: Database
    clock: Clock
    channel: OutboundChannel  # answers a button press (the spinner)
    wake_workers: Callable[[], None]


def init_app(app: Flask, deps: CallbackDeps) -> None:
    install(app, deps)
    app.register_blueprint(bp)


def _deps() -> CallbackDeps:
    return deps_of(CallbackDeps)


def _text(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/plain")


def _authentic(env: Envelope) -> bool:
    """group_id must match; the secret must match (VK may omit it only on `confirmation`)."""
    settings = _deps().settings
    if settings.vk_group_id is not None and env.group_id != settings.vk_group_id:
        return False
    if not settings.vk_secret or (env.type == "confirmation" and env.secret is None):
        return True
    return hmac.compare_digest((env.secret or "").encode(), settings.vk_secret.encode())


@bp.post("/vk/callback")
def callback() -> Response:
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY:
        log.warning("vk.callback refused: body of %d bytes", len(raw))
        return _text("body too large", 413)
    try:
        event = parse_event(json.loads(raw))
    except (ValueError, RecursionError) as exc:  # JSON, UTF-8 and EventError
        log.warning("vk.callback bad request: %s", str(exc)[:200])
        return _text(f"bad request: {str(exc)[:200]}", 400)
    if not _authentic(event.envelope):
        log.warning("vk.callback refused event %s: wrong secret or group_id",
                    event.envelope.event_id)
        return _text("forbidden", 403)
    if isinstance(event, Confirmation):
        return _text(_deps().settings.vk_confirmation_code)
    try:
        accept_event(event, retry=request.headers.get("X-Retry-Counter"))
    except SQLAlchemyError as exc:  # not stored: VK sends it again
        log.error("vk.callback event %s not stored: %s", event.envelope.event_id,
                  str(exc)[:300])
        return _text("not stored, retry later", 500)
    return _text("ok")


def _store_message_new(deps: CallbackDeps, event: MessageNew, now: datetime) -> Optional[int]:
    """One statement in its own transaction."""
    cfg = inbox.InboxSettings.of(deps.settings)

    def work(conn: Connection) -> Optional[int]:
        return inbox.store_message_new(conn, event, now, cfg)

    with deps.db.engine.begin() as conn:
        return work(conn)


def accept_event(event: object, retry: str | None = None) -> None:
    """Store an authenticated event once (also used by the local chat page)."""
    deps = _deps()
    env: Envelope = event.envelope  # type: ignore[attr-defined]
    now = deps.clock.now()
    if isinstance(event, MessageNew):
        stored = _store_message_new(deps, event, now)
        if stored is None:
            log.info("vk.callback event %s (retry %s): repeated, refused or not a private message",
                     env.event_id, retry)
        elif deps.settings.debounce_seconds <= 0:
            deps.wake_workers()  # with a debounce, the workers' poll finds it when it is due
        return
    if isinstance(event, (TypingState, MessageEdit, ButtonPress)):
        _client_event(event, now)
        return
    with deps.db.session() as s:
        if not inbox.claim_event(s, env.event_id, env.type):
            log.info("vk.callback duplicate event %s (retry %s) dropped", env.event_id, retry)
            return
        if isinstance(event, MessageReply):
            inbox.store_reply(s, event, now, inbox.InboxSettings.of(deps.settings))
        elif isinstance(event, MessagePermission):
            inbox.store_permission(s, event, inbox.InboxSettings.of(deps.settings), now)
        elif isinstance(event, OtherEvent):
            log.info("vk.callback event type %s acknowledged, not handled", env.type)


def _client_event(event: TypingState | MessageEdit | ButtonPress, now: datetime) -> None:
    deps = _deps()
    if isinstance(event, TypingState):
        if not _typing.allow(event.from_id):
            return  # a flood: the due time was moved a moment ago
        with deps.db.engine.begin() as conn:
            due = inbox_events.push_due(conn, event, now, deps.settings.typing_grace_s,
                                        deps.settings.typing_max_wait_s)
        if due is not None:
            log.debug("vk.callback typing from %s: reply due %s", event.from_id, due)
        return
    if isinstance(event, MessageEdit):
        with deps.db.engine.begin() as conn:
            edited = inbox_events.store_edit(conn, event, now)
        log.info("vk.callback message_edit of %s: %s", event.message.id,
                 "text updated before the reply" if edited else "already answered or unknown")
        return
    with deps.db.session() as s:
        stored = inbox_events.store_press(s, event, now, min(PRESS_DUE_S,
                                                              deps.settings.debounce_seconds))
    _answer_press(deps.channel, event)
    if stored is not None and deps.settings.debounce_seconds <= 0:
        deps.wake_workers()


def _answer_press(channel: object, event: ButtonPress) -> None:
    """Stop the button's spinner (the answer itself comes as a message). In a thread joined for
    at most ANSWER_WAIT_S: a slow VK never holds the callback's "ok" for long."""
    def answer() -> None:
        try:
            channel.answer_event(event.event_id, event.user_id,  # type: ignore[attr-defined]
                                 event.peer_id, None)
        except VkError as exc:
            log.warning("vk.callback sendMessageEventAnswer for %s failed: %s",
                        event.event_id, exc)

    worker = threading.Thread(target=answer, name="vk-event-answer", daemon=True)
    worker.start()
    worker.join(ANSWER_WAIT_S)
    if worker.is_alive():
        log.warning("vk.callback sendMessageEventAnswer for %s still running after %.1f s",
                    event.event_id, ANSWER_WAIT_S)
