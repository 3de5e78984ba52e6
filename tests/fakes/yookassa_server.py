"""A YooKassa API v3 stand-in for tests: a real HTTP server reached through YOOKASSA_API_URL.

It checks what the real API requires of a create (HTTP Basic `shopId:secretKey`, an
`Idempotence-Key`, the body's shape and limits) and answers like it: the same key returns the
same payment, `GET /payments/{id}` gives the current state or 404. Tests move a payment on with
`succeed` / `cancel` and make the API fail with `outage`.
"""
from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

SHOP_ID, SECRET_KEY = "123456", "test_secret_key_abc"
AMOUNT_RE = re.compile(r"^\d+\.\d{2}$")


@dataclass
class FakeYooKassa:
    shop_id: str = SHOP_ID
    secret_key: str = SECRET_KEY
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_key: dict[str, str] = field(default_factory=dict)
    creates: list[dict[str, Any]] = field(default_factory=list)  # accepted create bodies
    refused: list[str] = field(default_factory=list)  # why requests were refused
    gets: list[str] = field(default_factory=list)
    outage: bool = False  # answer 500 to everything
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.payments.clear(), self.by_key.clear(), self.creates.clear()
            self.refused.clear(), self.gets.clear()
            self.outage = False

    def succeed(self, payment_id: str) -> None:
        with self.lock:
            p = self.payments[payment_id]
            p.update(status="succeeded", paid=True, captured_at="2026-11-25T12:00:00.000Z")

    def cancel(self, payment_id: str) -> None:
        with self.lock:
            self.payments[payment_id].update(status="canceled", paid=False)

    @staticmethod
    def notification(payment_id: str, event: str = "payment.succeeded") -> dict[str, Any]:
        return {"type": "notification", "event": event,
                "object": {"id": payment_id, "status": event.split(".")[1], "paid": True,
                           "amount": {"value": "1.00", "currency": "RUB"}}}

    # --- the API --------------------------------------------------------------------------
    def check_body(self, body: Any) -> Optional[str]:
        if not isinstance(body, dict):
            return "body is not an object"
        amount = body.get("amount") or {}
        if not AMOUNT_RE.match(str(amount.get("value", ""))) or amount.get("currency") != "RUB":
            return f"amount: {amount!r}"
        if body.get("capture") is not True:
            return "capture must be true"
        conf = body.get("confirmation") or {}
        if conf.get("type") != "redirect" or not str(conf.get("return_url", "")).startswith("http"):
            return f"confirmation: {conf!r}"
        desc = body.get("description", "")
        if not isinstance(desc, str) or len(desc) > 128:
            return "description over 128 characters"
        meta = body.get("metadata") or {}
        if len(meta) > 16 or any(len(k) > 32 or not isinstance(v, str) or len(v) > 512
                                 for k, v in meta.items()):
            return "metadata over the limits"
        return None

    def create(self, key: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if key in self.by_key:
                return self.payments[self.by_key[key]]
            pid = str(uuid.uuid4())
            payment = {"id": pid, "status": "pending", "paid": False, "amount": body["amount"],
                       "confirmation": {"type": "redirect",
                                        "confirmation_url": f"https://yoomoney.test/checkout/{pid}"},
                       "created_at": "2026-11-25T11:30:00.000Z",
                       "description": body.get("description", ""),
                       "metadata": body.get("metadata") or {}, "test": True,
                       "refundable": False}
            self.payments[pid] = payment
            self.by_key[key] = pid
            self.creates.append(body)
            return payment


def _handler(api: FakeYooKassa) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, data: Any) -> None:
            raw = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _error(self, status: int, code: str, why: str) -> None:
            api.refused.append(f"{status} {code}: {why}")
            self._send(status, {"type": "error", "id": str(uuid.uuid4()), "code": code,
                                "description": why})

        def _authorized(self) -> bool:
            expected = base64.b64encode(f"{api.shop_id}:{api.secret_key}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {expected}":
                self._error(401, "invalid_credentials", "wrong shopId:secretKey")
                return False
            return True

        def do_POST(self) -> None:  # noqa: N802
            body_raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if api.outage:
                return self._error(500, "internal_server_error", "outage")
            if not self._authorized():
                return None
            if self.path.rstrip("/") != "/v3/payments":
                return self._error(404, "not_found", self.path)
            key = self.headers.get("Idempotence-Key", "")
            if not key or len(key) > 64:
                return self._error(400, "invalid_request", "Idempotence-Key header missing")
            try:
                body = json.loads(body_raw)
            except ValueError:
                return self._error(400, "invalid_request", "not JSON")
            problem = api.check_body(body)
            if problem:
                return self._error(400, "invalid_request", problem)
            return self._send(200, api.create(key, body))

        def do_GET(self) -> None:  # noqa: N802
            if api.outage:
                return self._error(500, "internal_server_error", "outage")
            if not self._authorized():
                return None
            m = re.match(r"^/v3/payments/([^/?]+)$", self.path)
            if not m:
                return self._error(404, "not_found", self.path)
            api.gets.append(m.group(1))
            with api.lock:
                payment = api.payments.get(m.group(1))
            if payment is None:
                return self._error(404, "not_found", "payment not found")
            return self._send(200, payment)

    return Handler


class FakeYooKassaServer:
    def __init__(self) -> None:
        self.api = FakeYooKassa()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.api))
        self.base_url = f"http://127.0.0.1:{self._server.server_port}/v3"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeYooKassaServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
