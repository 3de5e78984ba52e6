"""Issue 16.10: /healthz shows states to anyone and error texts only to logged-in staff."""
from __future__ import annotations

import json
from typing import Any

from tests.helpers import drain, message_new, post


def _walk(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [k for key, item in value.items() for k in [key, *_walk(item)]]
    return []


def test_error_texts_only_for_staff(app: Any, vk: Any, clock: Any) -> None:
    vk.emulator.fail_next("messages.send", 901)  # VK's error text lands in vk.last_error
    post(app.test_client(), message_new(6501, "Здравствуйте"))
    clock.advance(10)
    drain(app)
    secret_error = "Can't send messages"
    r = app.test_client().get("/healthz")
    assert r.status_code == 200
    body = r.get_json()
    text = json.dumps(body, ensure_ascii=False)
    assert secret_error not in text and "MANAGER_PEER_IDS" not in text
    assert "last_error" not in _walk(body) and "warnings" not in body
    assert body["vk"]["has_error"] is True and body["database"] == "ok"
    assert body["vk"]["token"] == "ok" and body["knowledge_base"]["version"]
    staff = app.test_client()
    staff.get("/admin/login")
    with staff.session_transaction() as sess:
        tok = sess["csrf_token"]
    staff.post("/admin/login", data={"password": "admin-pass", "csrf_token": tok})
    full = staff.get("/healthz").get_json()
    assert secret_error in json.dumps(full["vk"]["last_error"], ensure_ascii=False)
    assert isinstance(full["warnings"], list)
