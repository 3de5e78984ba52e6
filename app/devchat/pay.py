"""/dev/pay/<id>: the local stand-in checkout page (local mode only). «Оплатить» / «Отказаться»
settle the payment in the stand-in provider and hand the app the notification YooKassa would
send, through the same path as `POST /hooks/yookassa` (stored hint → fetched → recorded)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Blueprint, Flask, abort, render_template

from app.payments import Hint, LocalCheckout, PaymentNotifications
from app.platform.deps import deps_of, install

if TYPE_CHECKING:
    from flask.typing import ResponseReturnValue

bp = Blueprint("devpay", __name__, template_folder="templates")


@dataclass(frozen=True)
class DevPayDeps:
    checkout: LocalCheckout  # the stand-in provider
    notifications: PaymentNotifications


def init_app(app: Flask, deps: DevPayDeps) -> None:
    install(app, deps)
    app.register_blueprint(bp)


def _page(checkout: LocalCheckout, payment_id: str, done: str = "") -> ResponseReturnValue:
    payment = checkout.get_payment(payment_id)
    if payment is None:
        abort(404)
    return render_template("devpay.html", p=payment, done=done,
                           description=checkout.descriptions.get(payment_id, ""))


@bp.get("/dev/pay/<payment_id>")
def page(payment_id: str) -> ResponseReturnValue:
    return _page(deps_of(DevPayDeps).checkout, payment_id)


@bp.post("/dev/pay/<payment_id>/<any(pay, decline):action>")
def act(payment_id: str, action: str) -> ResponseReturnValue:
    deps = deps_of(DevPayDeps)
    payment = deps.checkout.settle(payment_id, paid=action == "pay")
    if payment is None:
        abort(404)
    event = "payment.succeeded" if payment.paid else "payment.canceled"
    deps.notifications.receive(Hint(payment_id, event))
    return _page(deps.checkout, payment_id, done=action)
