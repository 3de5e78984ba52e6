"""/dev/chat: a local page that stands in for VK. A person types as a VK user; the message goes
through the same event handling as a real callback, and replies arrive from the local VK
stand-in via the database."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from flask import Blueprint, Flask, Response, abort, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from app.devchat.vk_http import VkHttpServer
from app.models import Client, Dialog, Message
from app.platform.clock import Clock
from app.platform.config import Settings
from app.platform.db import Database
from app.platform.deps import deps_of, install
from app.vk.inbound.callback import accept_event
from app.vk.inbound.events import EventError, parse_event
from app.vk.keyboards import buttons_of

bp = Blueprint("devchat", __name__, template_folder="templates")
MAX_TEXT = 4000
# the page shows inline keyboards like VK's mobile app does
LOCAL_CLIENT_INFO = {"keyboard": True, "inline_keyboard": True, "lang_id": 0,
                     "button_actions": ["text", "callback", "open_link", "intent_subscribe"]}


@dataclass(frozen=True)
class DevchatDeps:
    settings: Settings
    db: Database
    clock: Clock
    local_vk: Optional[VkHttpServer]  # the loopback VK stand-in (local mode only)


def init_app(app: Flask, deps: DevchatDeps) -> None:
    install(app, deps)
    app.register_blueprint(bp)


@bp.get("/dev/chat")
def page() -> ResponseReturnValue:
    return render_template("devchat.html")


@bp.post("/dev/chat/send")
def send() -> ResponseReturnValue:
    data = request.get_json(silent=True) or {}
    text = str(data.get("text") or "").strip()[:MAX_TEXT]
    vk_id = _vk_id(data)
    if vk_id is None:
        return jsonify(error="vk_id должен быть числом"), 400
    if not text or not 0 < vk_id < 2_000_000_000:
        return jsonify(error="пустое сообщение или неверный vk_id"), 400
    deps = deps_of(DevchatDeps)
    first, last = str(data.get("first_name") or "").strip(), str(data.get("last_name") or "").strip()
    if first and deps.local_vk is not None:
        deps.local_vk.emulator.set_user(vk_id, first[:50], last[:50])
    message = {"id": 0, "peer_id": vk_id, "from_id": vk_id, "text": text,
               "date": int(deps.clock.now().timestamp())}
    if isinstance(data.get("payload"), str):  # a text button pressed on the page
        message["payload"] = data["payload"][:1000]
    return _as_vk_event(deps, vk_id, "message_new",
                        {"message": message, "client_info": LOCAL_CLIENT_INFO})


@bp.post("/dev/chat/press")
def press() -> ResponseReturnValue:
    """A callback button pressed on the page: VK's `message_event`, through the same handling."""
    data = request.get_json(silent=True) or {}
    vk_id = _vk_id(data)
    if vk_id is None:
        return jsonify(error="vk_id должен быть числом"), 400
    return _as_vk_event(deps_of(DevchatDeps), vk_id, "message_event",
                        {"user_id": vk_id, "peer_id": vk_id, "event_id": uuid.uuid4().hex[:20],
                         "payload": str(data.get("payload") or "")[:1000],
                         "conversation_message_id": 0})


@bp.post("/dev/chat/subscribe")
def subscribe() -> ResponseReturnValue:
    """An intent_subscribe button pressed on the page: the VK stand-in records the subscription
    (the app reads it back with messages.getIntentUsers, as from VK)."""
    data = request.get_json(silent=True) or {}
    vk_id, deps = _vk_id(data), deps_of(DevchatDeps)
    intent = str(data.get("intent") or "")
    if vk_id is None or not intent or deps.local_vk is None:
        return jsonify(error="нужны vk_id и intent"), 400
    sid = data.get("subscribe_id")
    deps.local_vk.emulator.rules.subscribe(vk_id, intent, int(sid) if isinstance(sid, int) else None)
    return jsonify(ok=True)


def _vk_id(data: dict[str, Any]) -> int | None:
    raw = data.get("vk_id")
    if raw is None:
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def _as_vk_event(deps: DevchatDeps, vk_id: int, kind: str,
                 obj: dict[str, Any]) -> tuple[Response, int] | Response:
    """Hand the page's action to the callback's own handling as the VK event `kind` would
    arrive; the client's action opens VK's reply window."""
    if deps.local_vk is not None:
        deps.local_vk.emulator.rules.note_inbound(vk_id)
    body = {"type": kind, "group_id": deps.settings.vk_group_id, "event_id": uuid.uuid4().hex,
            "secret": deps.settings.vk_secret, "v": "5.199", "object": obj}
    try:
        accept_event(parse_event(body))
    except EventError as exc:
        return jsonify(error=str(exc)), 400
    return jsonify(ok=True)


@bp.get("/dev/chat/messages")
def messages() -> ResponseReturnValue:
    try:
        vk_id, after = int(request.args["vk_id"]), int(request.args.get("after", 0))
    except (KeyError, ValueError):
        abort(400)
    deps = deps_of(DevchatDeps)
    with deps.db.session() as s:
        dialog = s.execute(select(Dialog).join(Client, Client.id == Dialog.client_id)
                           .where(Client.vk_id == vk_id)).scalar_one_or_none()
        rows = [] if dialog is None else s.execute(
            select(Message).where(Message.dialog_id == dialog.id, Message.id > after)
            .order_by(Message.id)).scalars().all()
        out = [{"id": m.id, "direction": m.direction, "source": m.source, "text": m.text,
                "at": m.created_at.isoformat(), "buttons": buttons_of(m.keyboard)} for m in rows
               if m.direction == "in" or m.vk_message_id is not None]
    return jsonify(messages=out, typing=_typing(deps, vk_id))


def _typing(deps: DevchatDeps, vk_id: int) -> bool:
    if deps.local_vk is None:
        return False
    events = deps.local_vk.emulator.typing_events(vk_id)
    if not events:
        return False
    sent = deps.local_vk.emulator.sent(vk_id)
    if sent and sent[-1].at >= events[-1].at:
        return False  # the reply typed has arrived
    return events[-1].at > datetime.now(timezone.utc) - timedelta(seconds=5)
