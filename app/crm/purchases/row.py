"""One purchase row, validated: `order_id, vk_id, email, phone, product_id, amount_rub, paid_at`.

- `product_id` is a KB product or `<id>:extension` of a product that has an extension;
- `paid_at` is ISO-8601 (date or date-time); without an offset it is in the school's zone;
- e-mail and phone are normalised (`crm.cards`), anything implausible is refused.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Optional
from zoneinfo import ZoneInfo

from app.crm import cards
from app.crm.purchases.access_math import split_extension
from app.platform.textsafe import storable

if TYPE_CHECKING:
    from app.knowledge.base import KnowledgeBase

MAX_VK_ID, MAX_AMOUNT = 2**62, 100_000_000
INT_RE = re.compile(r"(\d+)(?:[.,]0+)?")  # "14900", "14 900", "14900.00"


@dataclass(frozen=True)
class PurchaseRow:  # one validated purchase, before it is matched to a client
    order_id: str
    vk_id: Optional[int]
    email: Optional[str]
    phone: Optional[str]
    product_id: str
    is_extension: bool
    amount_rub: int
    paid_at: datetime


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError("must be a string or a number")
    if isinstance(value, float):
        value = int(value) if value.is_integer() else value
    text = str(value)
    if not storable(text):
        raise ValueError("contains a NUL character" if "\x00" in text
                         else "is not valid Unicode text")
    return text.replace("\u00a0", " ").strip()


def _int(value: object, what: str, limit: int = MAX_AMOUNT) -> int:
    match = INT_RE.fullmatch(_text(value).replace(" ", ""))
    if match is None or int(match[1]) > limit:
        raise ValueError(f"must be {what}, got {_text(value)!r}")
    return int(match[1])


def parse_paid_at(value: object, tz: str) -> datetime:
    raw = _text(value)
    if not raw:
        raise ValueError("is required")
    try:
        moment = datetime.fromisoformat(raw)  # dates, "T" or " " separators, offsets, "Z"
    except ValueError:
        raise ValueError(f"must be an ISO-8601 date or date-time "
                         f"(e.g. 2026-11-25 or 2026-11-25T14:30:00+03:00), got {raw!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment


def _product(value: object, kb: KnowledgeBase) -> tuple[str, bool]:
    raw = _text(value)
    if not raw:
        raise ValueError("is required")
    if kb.product(raw) is not None:
        return raw, False
    base, is_ext = split_extension(raw)
    product = kb.product(base) if is_ext else None
    if product is None:
        raise ValueError(f"unknown product {raw!r}")
    if product.extension is None:
        raise ValueError(f"product {base!r} has no extension")
    return f"{base}:extension", True


def _order_id(value: object) -> str:
    raw = _text(value)
    if not raw or len(raw) > 100:
        raise ValueError("must be at most 100 characters" if raw else "is required")
    return raw


def _vk_id(value: object) -> Optional[int]:
    raw = _text(value)
    if not raw:
        return None
    vk_id = _int(raw.removeprefix("id"), "a VK user id (a positive integer)", MAX_VK_ID)
    if vk_id == 0:
        raise ValueError("must be a VK user id (a positive integer), got '0'")
    return vk_id


def _contact(value: object, normalize: Callable[[str], Optional[str]], what: str) -> Optional[str]:
    raw = _text(value)
    if not raw:
        return None
    if (normalized := normalize(raw)) is None:
        raise ValueError(f"not a valid {what}: {raw!r}")
    return normalized


def validate_row(row: dict[str, Any], kb: Optional[KnowledgeBase],
                 ) -> tuple[Optional[PurchaseRow], list[str]]:
    """A row (CSV strings or JSON values) → a purchase, or the list of `field: problem`."""
    assert kb is not None, "purchases are validated against a loaded knowledge base"
    tz = kb.school.timezone
    checks: dict[str, Callable[[object], object]] = {
        "order_id": _order_id,
        "vk_id": _vk_id,
        "email": lambda v: _contact(v, cards.normalize_email, "e-mail address"),
        "phone": lambda v: _contact(v, cards.normalize_phone, "phone number"),
        "product_id": lambda v: _product(v, kb),
        "amount_rub": lambda v: _int(v, "a non-negative integer number of roubles"),
        "paid_at": lambda v: parse_paid_at(v, tz),
    }
    values: dict[str, Any] = {}
    errors: list[str] = []
    for name, check in checks.items():
        try:
            values[name] = check(row.get(name))
        except ValueError as exc:
            errors.append(f"{name}: {exc}")
    if errors:
        return None, errors
    product_id, is_ext = values.pop("product_id")
    return PurchaseRow(product_id=product_id, is_extension=is_ext, **values), []
