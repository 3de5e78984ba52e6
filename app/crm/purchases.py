"""Importing purchases from the shop: CSV files (`flask purchases import`) and the payment hook.

One purchase = `order_id, vk_id, email, phone, product_id, amount_rub, paid_at`. Rules:
- idempotent by `order_id`: a repeat is a duplicate, never an error and never a second row;
- the buyer: by `vk_id` (created when unknown), else by normalised e-mail, else by phone;
- the card's missing e-mail/phone are filled from the row (audited with source "import");
- `product_id` is a KB product or `<id>:extension` of a product that has an extension;
- `paid_at` is ISO-8601 (date or date-time); without an offset it is in the school's zone;
- each row runs in its own SAVEPOINT, so one bad row never spoils the good ones.
"""
from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, Iterable, Optional, Union
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.crm import cards
from app.crm.purchases_csv import csv_rows, read_text
from app.crm.purchases_math import split_extension
from app.models import Client, Purchase

MAX_VK_ID, MAX_AMOUNT = 2**62, 100_000_000
INT_RE = re.compile(r"(\d+)(?:[.,]0+)?")  # "14900", "14 900", "14900.00"


@dataclass
class ImportReport:
    created: int = 0
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)


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


@dataclass(frozen=True)
class Outcome:
    status: str  # created | duplicate | invalid
    order_id: Optional[str] = None
    errors: tuple[str, ...] = ()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError("must be a string or a number")
    if isinstance(value, float):
        value = int(value) if value.is_integer() else value
    text = str(value)
    if "\x00" in text:
        raise ValueError("contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("is not valid Unicode text") from None
    return text.replace("\u00a0", " ").strip()


def _int(value: Any, what: str, limit: int = MAX_AMOUNT) -> int:
    match = INT_RE.fullmatch(_text(value).replace(" ", ""))
    if match is None or int(match[1]) > limit:
        raise ValueError(f"must be {what}, got {_text(value)!r}")
    return int(match[1])


def parse_paid_at(value: Any, tz: str) -> datetime:
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


def _product(value: Any, kb: Any) -> tuple[str, bool]:
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


def _order_id(value: Any) -> str:
    raw = _text(value)
    if not raw or len(raw) > 100:
        raise ValueError("must be at most 100 characters" if raw else "is required")
    return raw


def _vk_id(value: Any) -> Optional[int]:
    raw = _text(value)
    if not raw:
        return None
    vk_id = _int(raw.removeprefix("id"), "a VK user id (a positive integer)", MAX_VK_ID)
    if vk_id == 0:
        raise ValueError("must be a VK user id (a positive integer), got '0'")
    return vk_id


def _contact(value: Any, normalize: Any, what: str) -> Optional[str]:
    raw = _text(value)
    if not raw:
        return None
    if (normalized := normalize(raw)) is None:
        raise ValueError(f"not a valid {what}: {raw!r}")
    return normalized


def validate_row(row: dict, kb: Any) -> tuple[Optional[PurchaseRow], list[str]]:
    """A row (CSV strings or JSON values) → a purchase, or the list of `field: problem`."""
    tz = kb.school.timezone
    checks = {
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


def _find_by(s: Session, column: Any, value: Optional[str]) -> tuple[Optional[Client], int]:
    if not value:
        return None, 0
    rows = s.execute(select(Client).where(column == value).order_by(Client.id).limit(2))
    found = rows.scalars().all()
    return (found[0] if found else None), len(found)


def _buyer(s: Session, row: PurchaseRow) -> tuple[Optional[Client], Optional[str]]:
    """The client this purchase belongs to (created for an unknown vk_id), or an error."""
    if row.vk_id is not None:
        client = s.execute(select(Client).where(Client.vk_id == row.vk_id)).scalar_one_or_none()
        if client is None:
            client = Client(vk_id=row.vk_id)
            s.add(client)
            s.flush()
        return client, None
    for column, value, name in ((Client.email, row.email, "email"),
                                (Client.phone, row.phone, "phone")):
        client, count = _find_by(s, column, value)
        if count > 1:
            return None, f"{name}: {value} belongs to several clients; give vk_id"
        if client is not None:
            return client, None
    if not row.email and not row.phone:
        return None, "vk_id: required when the row has neither email nor phone"
    return None, "vk_id: empty and no client has this email or phone; give vk_id"


def _update_card(s: Session, client: Client, row: PurchaseRow) -> None:
    if row.email and not client.email:
        cards.record_change(s, client, "email", row.email, "import")
    if row.phone and not client.phone:
        cards.record_change(s, client, "phone", row.phone, "import")
    products = s.execute(select(Purchase.product_id).where(
        Purchase.client_id == client.id)).scalars().all()
    distinct = {split_extension(p)[0] for p in products}
    stage = "returning" if len(distinct) > 1 or client.funnel_stage == "returning" else "client"
    cards.set_stage(s, client, stage, "import", owns_products=True)


def _is_duplicate(s: Session, order_id: str) -> bool:
    return s.execute(select(Purchase.id).where(Purchase.order_id == order_id)).first() is not None


def import_one(s: Session, raw: dict, kb: Any, source: str, retry: bool = True) -> Outcome:
    """Validate and store one purchase in its own SAVEPOINT."""
    row, errors = validate_row(raw, kb)
    if row is None:
        return Outcome("invalid", None, tuple(errors))
    if _is_duplicate(s, row.order_id):
        return Outcome("duplicate", row.order_id)
    try:
        with s.begin_nested():
            client, error = _buyer(s, row)
            if client is None:
                return Outcome("invalid", row.order_id, (error or "cannot attach the purchase",))
            s.add(Purchase(order_id=row.order_id, client_id=client.id, product_id=row.product_id,
                           kind="extension" if row.is_extension else "product",
                           amount_rub=row.amount_rub, paid_at=row.paid_at, source=source))
            s.flush()
            _update_card(s, client, row)
            s.flush()
    except IntegrityError:  # a concurrent request stored this order (or this new vk_id)
        if _is_duplicate(s, row.order_id):
            return Outcome("duplicate", row.order_id)
        if retry:
            return import_one(s, raw, kb, source, retry=False)
        raise
    return Outcome("created", row.order_id)


def import_rows(s: Session, rows: Iterable[tuple[int, dict]], kb: Any,
                source: str = "import") -> ImportReport:
    """Import `(line number, row)` pairs; bad rows are reported as `line N: …` and skipped."""
    report = ImportReport()
    for line, raw in rows:
        outcome = import_one(s, raw, kb, source)
        if outcome.status == "created":
            report.created += 1
        elif outcome.status == "duplicate":
            report.duplicates += 1
        else:
            report.errors.append(f"line {line}: " + "; ".join(outcome.errors))
    return report


def import_csv(s: Session, path_or_stream: Union[str, os.PathLike, IO], kb: Any) -> ImportReport:
    try:
        text = read_text(path_or_stream)
    except UnicodeDecodeError as exc:
        return ImportReport(errors=[f"file: not UTF-8 text (byte {exc.start}); "
                                    f"save the CSV as UTF-8"])
    try:
        rows, error = csv_rows(text)
    except csv.Error as exc:
        return ImportReport(errors=[f"file: malformed CSV: {exc}"])
    if error:
        return ImportReport(errors=[error])
    return import_rows(s, rows, kb, "import")
