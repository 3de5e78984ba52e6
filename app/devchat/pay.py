"""/dev/pay/<id>: the local stand-in checkout page (local mode only). «Оплатить» / «Отказаться»
settle the payment in the stand-in provider and hand the app the notification YooKassa would
send, through the same path as `POST /hooks/yookassa` (stored hint → fetched → recorded)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, render_template

from app.payments import Hint, LocalCheckout, PaymentNotifications
from app.payments.provider import SUCCEEDED


def blueprint(checkout: LocalCheckout, notifications: PaymentNotifications) -> Blueprint:
    bp = Blueprint("devpay", __name__, template_folder="templates")

    def _page(payment_id: str, done: str = "") -> Any:
        payment = checkout.get_payment(payment_id)
        if payment is None:
            abort(404)
        return render_template("devpay.html", p=payment, done=done,
                               description=checkout.descriptions.get(payment_id, ""))

    @bp.get("/dev/pay/<payment_id>")
    def page(payment_id: str) -> Any:
        return _page(payment_id)

    @bp.post("/dev/pay/<payment_id>/<any(pay, decline):action>")
    def act(payment_id: str, action: str) -> Any:
        payment = checkout.settle(payment_id, paid=action == "pay")
        if payment is None:
            abort(404)
        event = "payment.succeeded" if payment.status == SUCCEEDED else "payment.canceled"
        notifications.receive(Hint(payment_id, event))
        return _page(payment_id, done=action)

    return bp


def init_app(app: Flask, checkout: LocalCheckout, notifications: PaymentNotifications) -> None:
    app.register_blueprint(blueprint(checkout, notifications))
