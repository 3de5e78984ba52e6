"""A small typed client of YooKassa's API v3 (`POST /payments`, `GET /payments/{id}`).

Not the official `yookassa` package: it keeps its configuration (shop id, key, base URL) in
class attributes, i.e. one global per process, and the app (and its tests) need it per app.
HTTP Basic `shopId:secretKey`, an `Idempotence-Key` on every create, amounts as "1234.00" RUB,
`capture: true` (one-stage payment), `confirmation: {type: redirect, return_url}`, a description
of at most 128 characters and at most 16 metadata keys (key ≤ 32, value ≤ 512 characters).
Every call has a timeout; errors become `PaymentUnavailable` / `PaymentRejected`.
"""
from __future__ import annotations

import logging
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping, Optional

import requests

from app.payments.provider import PaymentRejected, PaymentRequest, PaymentUnavailable, ProviderPayment

log = logging.getLogger(__name__)
DESCRIPTION_MAX = 128
METADATA_MAX_KEYS = 16
METADATA_KEY_MAX = 32
METADATA_VALUE_MAX = 512
PAYMENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


def rub(amount_rub: int) -> str:
    """YooKassa's amount value: rubles with two decimals."""
    return f"{Decimal(amount_rub):.2f}"


def clip_description(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= DESCRIPTION_MAX else text[:DESCRIPTION_MAX - 1].rstrip() + "…"


def check_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    if len(metadata) > METADATA_MAX_KEYS:
        raise ValueError(f"metadata: at most {METADATA_MAX_KEYS} keys")
    out: dict[str, str] = {}
    for key, value in metadata.items():
        if not key or len(key) > METADATA_KEY_MAX:
            raise ValueError(f"metadata key {key!r}: 1–{METADATA_KEY_MAX} characters")
        value = str(value)
        if len(value) > METADATA_VALUE_MAX:
            raise ValueError(f"metadata {key}: at most {METADATA_VALUE_MAX} characters")
        out[key] = value
    return out


def payment_body(request: PaymentRequest) -> dict[str, Any]:
    return {"amount": {"value": rub(request.amount_rub), "currency": "RUB"},
            "capture": True,
            "confirmation": {"type": "redirect", "return_url": request.return_url},
            "description": clip_description(request.description),
            "metadata": check_metadata(request.metadata)}


def parse_payment(data: Any) -> ProviderPayment:
    """YooKassa's payment object → `ProviderPayment` (a malformed one is "unavailable")."""
    try:
        amount = data["amount"]
        confirmation = data.get("confirmation") or {}
        metadata = data.get("metadata") or {}
        return ProviderPayment(
            id=str(data["id"]), status=str(data["status"]),
            amount=Decimal(str(amount["value"])), currency=str(amount.get("currency", "RUB")),
            confirmation_url=confirmation.get("confirmation_url"),
            metadata={str(k): str(v) for k, v in metadata.items()},
            paid=bool(data.get("paid", False)))
    except (KeyError, TypeError, AttributeError, InvalidOperation) as exc:
        raise PaymentUnavailable(f"YooKassa answered an unexpected payment object: {exc}") from exc


class YooKassaClient:
    name = "yookassa"

    def __init__(self, shop_id: str, secret_key: str, api_url: str = "https://api.yookassa.ru/v3",
                 timeout_s: float = 10.0, session: Optional[requests.Session] = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout_s = timeout_s
        self._auth = (shop_id, secret_key)
        self._http = session or requests.Session()

    def create_payment(self, request: PaymentRequest) -> ProviderPayment:
        body = payment_body(request)
        data = self._call("POST", "/payments", json=body,
                          headers={"Idempotence-Key": request.idempotency_key})
        return parse_payment(data)

    def get_payment(self, payment_id: str) -> Optional[ProviderPayment]:
        if not PAYMENT_ID_RE.match(payment_id or ""):
            return None  # not an id YooKassa could have made: never sent anywhere
        data = self._call("GET", f"/payments/{payment_id}", not_found_ok=True)
        return None if data is None else parse_payment(data)

    def _call(self, method: str, path: str, not_found_ok: bool = False, **kwargs: Any) -> Any:
        try:
            resp = self._http.request(method, self.api_url + path, auth=self._auth,
                                      timeout=self.timeout_s, **kwargs)
        except requests.Timeout as exc:
            raise PaymentUnavailable(f"YooKassa {method} {path}: timeout") from exc
        except requests.RequestException as exc:
            raise PaymentUnavailable(f"YooKassa {method} {path}: {type(exc).__name__}") from exc
        if resp.status_code == 404 and not_found_ok:
            return None
        if resp.status_code == 200:
            try:
                return resp.json()
            except ValueError as exc:
                raise PaymentUnavailable(f"YooKassa {method} {path}: not JSON") from exc
        detail = _error_detail(resp)
        if resp.status_code in (202, 429) or resp.status_code >= 500:
            raise PaymentUnavailable(f"YooKassa {method} {path}: HTTP {resp.status_code} {detail}")
        raise PaymentRejected(f"YooKassa {method} {path}: HTTP {resp.status_code} {detail}")


def _error_detail(resp: requests.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    return f"{data.get('code', '')}: {str(data.get('description', ''))[:200]}".strip(": ")
