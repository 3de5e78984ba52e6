"""`POST /hooks/yookassa`: YooKassa's payment notifications (set in the shop's account:
HTTP notifications → `https://<host>/hooks/yookassa`, events `payment.succeeded` and
`payment.canceled`).

Notifications are not signed, so the body is only a hint: its payment id is stored and then
verified by fetching the payment from YooKassa (`app.payments.PaymentNotifications`). The
answer is 200 as soon as the hint is stored (YooKassa retries anything else for a day); the
work after it is idempotent and durable. Answers: 200 stored, 400 unreadable body, 503 no
payment provider configured.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from flask import Blueprint, Flask, jsonify, request

from app.payments import PaymentNotifications, parse_notification
from app.platform.deps import deps_of, install

if TYPE_CHECKING:
    from flask.typing import ResponseReturnValue

log = logging.getLogger(__name__)
bp = Blueprint("yookassa_hook", __name__)
MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class YooKassaHookDeps:
    notifications: Optional[PaymentNotifications]  # None: no payment provider (answered 503)


def init_app(app: Flask, deps: YooKassaHookDeps) -> None:
    install(app, deps)
    app.register_blueprint(bp)


@bp.post("/hooks/yookassa")
def yookassa_hook() -> ResponseReturnValue:
    notifications = deps_of(YooKassaHookDeps).notifications
    if notifications is None:
        return jsonify({"status": "error", "error": "payments are not configured"}), 503
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY_BYTES:
        return jsonify({"status": "error", "error": "body too large"}), 400
    try:
        hint = parse_notification(json.loads(raw.decode("utf-8")))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # BadNotification is a ValueError, as is invalid JSON
        log.warning("yookassa hook: unreadable notification: %s", str(exc)[:200])
        return jsonify({"status": "error", "error": "not a payment notification"}), 400
    notifications.receive(hint)
    return jsonify({"status": "ok"}), 200
