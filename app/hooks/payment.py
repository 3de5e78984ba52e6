"""`POST /hooks/payment`: the shop reports one paid order (same fields as the CSV import).

Header `X-Payment-Secret` must equal `PAYMENT_WEBHOOK_SECRET` (unset → the hook is off, 503).
Answers: 201 created, 200 duplicate (the shop may retry freely), 202 unmatched (the order
matched only a contact a client typed in chat: it waits for staff), 400 bad JSON, 403 wrong
secret, 422 invalid purchase. Bad input never causes a 5xx.
"""
from __future__ import annotations

import hmac
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, jsonify, request

from app.crm.purchases.store import import_one
from app.knowledge.base import KnowledgeStore
from app.platform.db import Database
from app.platform.deps import deps_of, install

if TYPE_CHECKING:
    from flask.typing import ResponseReturnValue

log = logging.getLogger(__name__)
bp = Blueprint("payments", __name__)
MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class PaymentHookDeps:
    db: Database
    kb_store: KnowledgeStore
    secret: str | None  # PAYMENT_WEBHOOK_SECRET; unset → the hook is off


def init_app(app: Flask, deps: PaymentHookDeps) -> None:
    install(app, deps)
    app.register_blueprint(bp)


def _error(status: int, message: str, **extra: object) -> ResponseReturnValue:
    return jsonify({"status": "error", "error": message, **extra}), status


def _secret_ok(expected: str) -> bool:
    given = request.headers.get("X-Payment-Secret", "")
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def _parse_body() -> tuple[Any, str | None]:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return None, f"body too large (limit {MAX_BODY_BYTES} bytes)"
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY_BYTES:
        return None, f"body too large (limit {MAX_BODY_BYTES} bytes)"
    try:
        body = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return None, "invalid JSON: body is not UTF-8 text"
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
    except (RecursionError, ValueError) as exc:  # absurd nesting, 5000-digit numbers
        return None, f"invalid JSON: {str(exc)[:100]}"
    if not isinstance(body, dict):
        return None, "body must be a JSON object with the purchase fields"
    return body, None


@bp.post("/hooks/payment")
def payment_hook() -> ResponseReturnValue:
    deps = deps_of(PaymentHookDeps)
    expected = deps.secret
    if not expected:
        return _error(503, "payment webhook disabled")
    if not _secret_ok(expected):
        log.warning("payment hook: wrong or missing X-Payment-Secret")
        return _error(403, "forbidden")
    body, problem = _parse_body()
    if problem is not None:
        return _error(400, problem)
    with deps.db.session() as s:
        outcome = import_one(s, body, deps.kb_store.current, "webhook")
    if outcome.status == "duplicate":
        return jsonify({"status": "duplicate", "order_id": outcome.order_id}), 200
    if outcome.status == "unmatched":
        log.info("payment hook: order %s waits for staff (unverified contact)", outcome.order_id)
        return jsonify({"status": "unmatched", "order_id": outcome.order_id}), 202
    if outcome.status == "invalid":
        return jsonify({"status": "invalid", "errors": list(outcome.errors)}), 422
    log.info("payment hook: order %s stored", outcome.order_id)
    return jsonify({"status": "created", "order_id": outcome.order_id}), 201
