"""The local stand-in checkout (local mode / `make run` only): a provider kept in memory whose
confirmation page is `/dev/pay/<id>` («Оплатить» / «Отказаться»). Paying or declining there
changes the payment here and hands the app the same notification YooKassa would send, through
the same path as `POST /hooks/yookassa` (a hint; the state is then fetched from this object)."""
from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from decimal import Decimal
from typing import Optional

from app.payments.provider import CANCELED, PENDING, SUCCEEDED, PaymentRequest, ProviderPayment
from app.payments.yookassa import check_metadata

PAY_PATH = "/dev/pay/"


class LocalCheckout:
    name = "local"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._payments: dict[str, ProviderPayment] = {}
        self._by_key: dict[str, str] = {}
        self.descriptions: dict[str, str] = {}

    def create_payment(self, request: PaymentRequest) -> ProviderPayment:
        with self._lock:
            known = self._by_key.get(request.idempotency_key)
            if known is not None:
                return self._payments[known]
            pid = "local-" + uuid.uuid4().hex[:20]
            payment = ProviderPayment(pid, PENDING, Decimal(request.amount_rub),
                                      confirmation_url=PAY_PATH + pid,
                                      metadata=check_metadata(request.metadata))
            self._payments[pid] = payment
            self._by_key[request.idempotency_key] = pid
            self.descriptions[pid] = request.description
            return payment

    def get_payment(self, payment_id: str) -> Optional[ProviderPayment]:
        with self._lock:
            return self._payments.get(payment_id)

    def settle(self, payment_id: str, paid: bool) -> Optional[ProviderPayment]:
        """The client pressed «Оплатить» (paid) or «Отказаться»; a settled payment stays."""
        with self._lock:
            payment = self._payments.get(payment_id)
            if payment is None or payment.status != PENDING:
                return payment
            payment = replace(payment, status=SUCCEEDED if paid else CANCELED, paid=paid)
            self._payments[payment_id] = payment
            return payment
