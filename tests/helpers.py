"""Small helpers for building VK callback bodies and driving the worker in tests."""
from __future__ import annotations

import itertools
import json
from typing import Any

from app.composition.background import worker_pool
from app.composition.factory import parts as services

_ids = itertools.count(1)


def message_new(peer_id: int, text: str, *, event_id: str | None = None, msg_id: int | None = None,
                secret: str = "s3cret", group_id: int = 1) -> dict[str, Any]:
    mid = msg_id or next(_ids) + 10_000
    return {"type": "message_new", "group_id": group_id, "event_id": event_id or f"ev-{mid}",
            "v": "5.199", "secret": secret,
            "object": {"message": {"id": mid, "date": 1764070000, "peer_id": peer_id,
                                   "from_id": peer_id, "text": text, "attachments": [],
                                   "conversation_message_id": mid},
                       "client_info": {"keyboard": True, "inline_keyboard": True}}}


def post(client: Any, body: Any, headers: dict | None = None) -> Any:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body, ensure_ascii=False)
    return client.post("/vk/callback", data=data, headers=headers or {},
                       content_type="application/json")


def drain(app: Any, limit: int = 50) -> int:
    """Run due turns in this thread until none is due. Returns how many ran."""
    pool = worker_pool(services(app), 0, 0.01)
    n = 0
    while n < limit and pool.run_once():
        n += 1
    return n


class HookedBrain:
    """A real brain (the offline rules unless `inner` is given) with hooks around its calls:
    tests slow a turn down or act "while the model thinks" without touching the container."""

    def __init__(self, inner: Any = None, before_analyze: Any = None,
                 after_reply: Any = None) -> None:
        from app.brain.offline.brain import OfflineBrain
        from app.reminders.resolver import resolve

        self.inner = inner or OfflineBrain(resolve_time=resolve)
        self.name = self.inner.name
        self.before_analyze, self.after_reply = before_analyze, after_reply

    def analyze(self, ctx: Any) -> Any:
        if self.before_analyze is not None:
            self.before_analyze(ctx)
        return self.inner.analyze(ctx)

    def write_reply(self, ctx: Any, analysis: Any, decisions: Any) -> Any:
        result = self.inner.write_reply(ctx, analysis, decisions)
        if self.after_reply is not None:
            self.after_reply(ctx)
        return result


def csrf_token(c: Any) -> str:
    with c.session_transaction() as sess:
        return sess.get("csrf_token", "")


def panel_login(c: Any, password: str = "admin-pass") -> Any:
    c.get("/admin/login")
    return c.post("/admin/login", data={"password": password, "csrf_token": csrf_token(c)})


def logged_in(app: Any) -> Any:
    """A test client of the staff panel, logged in with the tests' password."""
    c = app.test_client()
    assert panel_login(c).status_code == 302
    return c
