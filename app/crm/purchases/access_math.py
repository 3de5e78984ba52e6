"""Access arithmetic: expiry = paid_at + the product's access_days, extended by extensions.

An extension purchase names the course it extends as `<product-id>:extension` (or
`<product-id>-extension`) and adds the product's `extension.days` to the access end
(counted from the end of the current access, or from the payment if access had lapsed).
A repeat purchase of the same product stacks the same way: no paid day is ever lost (this is
how a monthly subscription paid a few days early renews).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Iterable, Optional

if TYPE_CHECKING:
    from app.knowledge.base import KnowledgeBase

EXTENSION_SUFFIXES = (":extension", "-extension")


def split_extension(product_id: str) -> tuple[str, bool]:
    for suffix in EXTENSION_SUFFIXES:
        if product_id.endswith(suffix):
            return product_id[: -len(suffix)], True
    return product_id, False


@dataclass(frozen=True)
class PaidItem:
    product_id: str
    paid_at: datetime


@dataclass(frozen=True)
class Access:
    product_id: str
    first_paid_at: datetime
    until: Optional[datetime]  # None = lifetime


def compute_access(items: Iterable[PaidItem], kb: Optional[KnowledgeBase]) -> dict[str, Access]:
    """Per product: access end after all purchases and extensions, in payment order."""
    result: dict[str, Access] = {}
    for item in sorted(items, key=lambda i: i.paid_at):
        base_id, is_ext = split_extension(item.product_id)
        product = kb.product(base_id) if kb is not None else None
        current = result.get(base_id)
        if is_ext:
            if current is None or current.until is None:
                continue  # extension of nothing, or of lifetime access: no change
            days = product.extension.days if product and product.extension else 0
            start = max(current.until, item.paid_at)
            result[base_id] = Access(base_id, current.first_paid_at, start + timedelta(days=days))
            continue
        access_days = product.access_days if product is not None else None
        if access_days is None or (current is not None and current.until is None):
            until = None
        else:  # a repeat purchase while access lasts adds its days after the current end
            start = (item.paid_at if current is None or current.until is None
                     else max(current.until, item.paid_at))
            until = start + timedelta(days=access_days)
        first = current.first_paid_at if current else item.paid_at
        result[base_id] = Access(base_id, first, until)
    return result
