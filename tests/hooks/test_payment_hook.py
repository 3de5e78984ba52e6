"""POST /hooks/payment: secret, JSON errors, validation, idempotency; never a 5xx on bad input."""
from __future__ import annotations

import json
from typing import Any, Callable

import pytest
from sqlalchemy import func, select

from app.composition.factory import parts as services
from app.models import Client, Purchase

SECRET = "pay-secret-1"
ORDER = {"order_id": "W-1", "vk_id": 9001, "email": "buyer@example.com", "phone": "",
         "product_id": "piano-from-zero", "amount_rub": 14900, "paid_at": "2026-11-25T14:00:00+03:00"}


@pytest.fixture()
def hook_app(make_app: Callable[..., Any]) -> Any:
    return make_app(payment_webhook_secret=SECRET)


def _post(app: Any, body: Any, secret: str | None = SECRET, raw: bool = False) -> Any:
    headers = {"X-Payment-Secret": secret} if secret is not None else {}
    data = body if raw else json.dumps(body, ensure_ascii=False)
    return app.test_client().post("/hooks/payment", data=data, headers=headers,
                                  content_type="application/json")


def _count(app: Any) -> int:
    with services(app).db.session() as s:
        return s.execute(select(func.count(Purchase.id))).scalar_one()


def test_created_then_duplicate(hook_app: Any) -> None:
    resp = _post(hook_app, ORDER)
    assert resp.status_code == 201
    assert resp.get_json() == {"status": "created", "order_id": "W-1"}
    again = _post(hook_app, ORDER)
    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
    assert _count(hook_app) == 1
    with services(hook_app).db.session() as s:
        client = s.execute(select(Client).where(Client.vk_id == 9001)).scalar_one()
        purchase = s.execute(select(Purchase)).scalar_one()
    assert client.email == "buyer@example.com" and client.funnel_stage == "client"
    assert purchase.source == "webhook" and purchase.amount_rub == 14900


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", "пароль"])
def test_wrong_secret_is_403_and_nothing_stored(hook_app: Any, secret: Any) -> None:
    resp = _post(hook_app, ORDER, secret=secret)
    assert resp.status_code == 403
    assert _count(hook_app) == 0


def test_disabled_without_secret(app: Any) -> None:
    resp = _post(app, ORDER, secret="anything")
    assert resp.status_code == 503
    assert resp.get_json()["error"] == "payment webhook disabled"
    assert _count(app) == 0


@pytest.mark.parametrize("body, fragment", [
    (b"{not json", "invalid JSON"),
    (b"", "invalid JSON"),
    (b"\xff\xfe\x00", "not UTF-8"),
    (b"[1, 2]", "JSON object"),
    (b"\"text\"", "JSON object"),
    (b"null", "JSON object"),
])
def test_bad_json_is_400(hook_app: Any, body: bytes, fragment: str) -> None:
    resp = _post(hook_app, body, raw=True)
    assert resp.status_code == 400
    assert fragment in resp.get_json()["error"]
    assert _count(hook_app) == 0


@pytest.mark.parametrize("change, fragment", [
    ({"product_id": "nope"}, "product_id: unknown product 'nope'"),
    ({"amount_rub": -1}, "amount_rub:"),
    ({"amount_rub": "много"}, "amount_rub:"),
    ({"amount_rub": [1]}, "amount_rub: must be a string or a number"),
    ({"amount_rub": 10**12}, "amount_rub:"),
    ({"amount_rub": 14900.5}, "amount_rub:"),
    ({"vk_id": 0}, "vk_id:"),
    ({"paid_at": "вчера"}, "paid_at: must be an ISO-8601"),
    ({"paid_at": None}, "paid_at: is required"),
    ({"order_id": ""}, "order_id: is required"),
    ({"order_id": "x" * 101}, "order_id: must be at most 100"),
    ({"vk_id": "abc"}, "vk_id:"),
    ({"vk_id": 10**30}, "vk_id:"),
    ({"vk_id": None, "email": "", "phone": None}, "vk_id: required"),
    ({"vk_id": None, "email": "nobody@example.com"}, "no client has this email"),
    ({"email": {"a": 1}}, "email: must be a string or a number"),
])
def test_invalid_purchase_is_422(hook_app: Any, change: dict, fragment: str) -> None:
    resp = _post(hook_app, {**ORDER, **change})
    assert resp.status_code == 422, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["status"] == "invalid"
    assert any(fragment in e for e in body["errors"]), body["errors"]
    assert _count(hook_app) == 0


def test_extension_and_match_by_phone(hook_app: Any) -> None:
    with services(hook_app).db.session() as s:
        s.add(Client(vk_id=9100, phone="+79001234567", phone_verified=True))
    body = {**ORDER, "order_id": "W-2", "vk_id": None, "email": None, "phone": "8 900 123 45 67",
            "product_id": "piano-from-zero:extension", "amount_rub": "2900"}
    resp = _post(hook_app, body)
    assert resp.status_code == 201, resp.get_json()
    with services(hook_app).db.session() as s:
        p = s.execute(select(Purchase)).scalar_one()
        client = s.get(Client, p.client_id)
    assert client.vk_id == 9100 and p.kind == "extension"


def test_too_large_body_is_rejected(hook_app: Any) -> None:
    resp = _post(hook_app, {**ORDER, "comment": "x" * 70_000})
    assert resp.status_code == 400 and "too large" in resp.get_json()["error"]


def test_hostile_bodies_never_cause_a_server_error(make_app) -> None:  # noqa: ANN001
    app = make_app(payment_webhook_secret="pay-secret")
    c = app.test_client()
    good = {"order_id": "x1", "vk_id": "5", "email": "", "phone": "", "product_id":
            "piano-from-zero", "amount_rub": 14900, "paid_at": "2026-11-01"}
    bodies = [b"[" * 5000 + b"]" * 5000, b'{"order_id": 1' + b"0" * 5000 + b"}",
              json.dumps({**good, "order_id": "a\u0000b"}).encode(),
              json.dumps({**good, "email": "a\u0000@b.ru"}).encode(),
              json.dumps({**good, "order_id": "x" * 5000}).encode(),
              json.dumps({**good, "product_id": ["x"]}).encode(),
              json.dumps({**good, "amount_rub": 1e308}).encode(),
              json.dumps({**good, "order_id": "a\udfffb"}).encode()]
    for body in bodies:
        r = c.post("/hooks/payment", data=body, content_type="application/json",
                   headers={"X-Payment-Secret": "pay-secret"})
        assert 400 <= r.status_code < 500, (body[:60], r.status_code)
