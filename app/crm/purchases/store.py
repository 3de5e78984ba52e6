"""Importing purchases from the shop: CSV files (`flask purchases import`) and the payment hook.

One purchase = `order_id, vk_id, email, phone, product_id, amount_rub, paid_at`. Rules:
- idempotent by `order_id`: a repeat is a duplicate, never an error and never a second row;
- the buyer: by `vk_id` (created when unknown), else by a *proven* e-mail, else phone (proven
  by staff); an order matching only unproven contacts (typed in chat, or carried by another
  order) is parked in `unmatched_orders` for staff (`flask purchases unmatched`);
- the order's e-mail/phone go on the card it attaches to as claims (audited "order:<id>"):
  whoever pays types them into the shop's form, so they prove nothing for other orders; an
  order staff attach by hand proves them ("staff:order:<id>");
- `product_id` is a KB product or `<id>:extension` of a product that has an extension;
- `paid_at` is ISO-8601 (date or date-time); without an offset it is in the school's zone;
- each row runs in its own SAVEPOINT, so one bad row never spoils the good ones.
"""
from __future__ import annotations

import csv
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, Iterable, Optional, Union

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.crm import cards
from app.crm.purchases.access_math import split_extension
from app.crm.purchases.csv_import import csv_rows, read_text
from app.crm.purchases.row import PurchaseRow, parse_paid_at, validate_row  # noqa: F401
from app.models import Client, OrderCheck, Purchase, UnmatchedOrder

if TYPE_CHECKING:
    from app.knowledge.base import KnowledgeBase

UNMATCHED_REASON = ("matches only contact data a client typed in chat (unverified): "
                    "waits for staff in `flask purchases unmatched`")


@dataclass
class ImportReport:
    created: int = 0
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # order ids waiting for staff


@dataclass(frozen=True)
class Outcome:
    status: str  # created | duplicate | unmatched | invalid
    order_id: Optional[str] = None
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Match:
    client: Optional[Client] = None
    error: Optional[str] = None
    candidates: tuple[int, ...] = ()  # clients who only *claimed* this contact in chat


def _by_contact(s: Session, field: str, value: Optional[str]) -> tuple[list[Client], list[int]]:
    if not value:
        return [], []
    rows = s.execute(select(Client).where(getattr(Client, field) == value)
                     .order_by(Client.id)).scalars().all()
    proven = [c for c in rows if getattr(c, f"{field}_verified")]
    return proven, [c.id for c in rows if not getattr(c, f"{field}_verified")]


def _buyer(s: Session, row: PurchaseRow) -> Match:
    """The client this purchase belongs to: by vk_id (created when unknown), else by a proven
    e-mail/phone. A contact only claimed in chat never attaches an order: it makes candidates."""
    if row.vk_id is not None:
        client = s.execute(select(Client).where(Client.vk_id == row.vk_id)).scalar_one_or_none()
        if client is None:
            client = Client(vk_id=row.vk_id)
            s.add(client)
            s.flush()
        return Match(client)
    candidates: list[int] = []
    for name, value in (("email", row.email), ("phone", row.phone)):
        proven, claimed = _by_contact(s, name, value)
        if len(proven) > 1:
            return Match(error=f"{name}: {value} belongs to several clients; give vk_id")
        if proven:
            return Match(proven[0])
        candidates += [c for c in claimed if c not in candidates]
    if candidates:
        return Match(candidates=tuple(candidates))
    if not row.email and not row.phone:
        return Match(error="vk_id: required when the row has neither email nor phone")
    return Match(error="vk_id: empty and no client has this email or phone; give vk_id")


STAFF_PROOF = "staff:"  # `proof` of an order staff attached by hand (they checked the buyer)


def carry_contact(s: Session, client: Client, field: str, value: Optional[str],
                  proof: str) -> bool:
    """A contact carried by an order the code attached: whoever paid typed it into the shop's
    form, so it proves nothing — it is a claim on this card (origin "order:<id>"), never
    replacing a proven contact; a later order with only this contact waits for staff. Only an
    order staff attached (`proof` "staff:…") proves its contacts."""
    if proof.startswith(STAFF_PROOF):
        return cards.prove_contact(s, client, field, value, "import", proof)
    if not value or value == getattr(client, field) or getattr(client, f"{field}_verified"):
        return False
    return cards.set_contact(s, client, field, value, "import", verified=False, origin=proof)


def update_card(s: Session, client: Client, row: PurchaseRow, proof: str) -> None:
    """The order's contacts go on the card (proven only when staff attached the order); the
    stage follows the purchases."""
    for name in cards.CONTACTS:
        carry_contact(s, client, name, getattr(row, name), proof)
    products = s.execute(select(Purchase.product_id).where(
        Purchase.client_id == client.id)).scalars().all()
    distinct = {split_extension(p)[0] for p in products}
    stage = "returning" if len(distinct) > 1 or client.funnel_stage == "returning" else "client"
    cards.set_stage(s, client, stage, "import", owns_products=True)


def store(s: Session, client: Client, row: PurchaseRow, source: str, proof: str) -> None:
    s.add(Purchase(order_id=row.order_id, client_id=client.id, product_id=row.product_id,
                   kind="extension" if row.is_extension else "product",
                   amount_rub=row.amount_rub, paid_at=row.paid_at, source=source))
    s.flush()
    update_card(s, client, row, proof)
    s.flush()


def park(s: Session, row: PurchaseRow, candidates: tuple[int, ...], source: str) -> None:
    payload = {**asdict(row), "paid_at": row.paid_at.isoformat()}
    s.add(UnmatchedOrder(order_id=row.order_id, payload=payload, candidate_ids=list(candidates),
                         reason=UNMATCHED_REASON, source=source,
                         status=OrderCheck.WAITING))
    s.flush()


def row_from_payload(payload: dict[str, Any]) -> PurchaseRow:
    return PurchaseRow(**{**payload, "paid_at": datetime.fromisoformat(payload["paid_at"])})


def _is_duplicate(s: Session, order_id: str) -> bool:
    if s.execute(select(Purchase.id).where(Purchase.order_id == order_id)).first() is not None:
        return True
    return s.execute(select(UnmatchedOrder.id).where(
        UnmatchedOrder.order_id == order_id)).first() is not None


def import_one(s: Session, raw: dict[str, Any], kb: Optional[KnowledgeBase], source: str,
               retry: bool = True) -> Outcome:
    """Validate and store one purchase in its own SAVEPOINT."""
    row, errors = validate_row(raw, kb)
    if row is None:
        return Outcome("invalid", None, tuple(errors))
    if _is_duplicate(s, row.order_id):
        return Outcome("duplicate", row.order_id)
    try:
        with s.begin_nested():
            match = _buyer(s, row)
            if match.candidates:
                park(s, row, match.candidates, source)
                return Outcome("unmatched", row.order_id, (UNMATCHED_REASON,))
            if match.client is None:
                return Outcome("invalid", row.order_id,
                               (match.error or "cannot attach the purchase",))
            store(s, match.client, row, source, f"order:{row.order_id}")
    except IntegrityError:  # a concurrent request stored this order (or this new vk_id)
        if _is_duplicate(s, row.order_id):
            return Outcome("duplicate", row.order_id)
        if retry:
            return import_one(s, raw, kb, source, retry=False)
        raise
    return Outcome("created", row.order_id)


def import_rows(s: Session, rows: Iterable[tuple[int, dict[str, Any]]], kb: Optional[KnowledgeBase],
                source: str = "import") -> ImportReport:
    """Import `(line number, row)` pairs; bad rows are reported as `line N: …` and skipped."""
    report = ImportReport()
    for line, raw in rows:
        outcome = import_one(s, raw, kb, source)
        if outcome.status == "created":
            report.created += 1
        elif outcome.status == "duplicate":
            report.duplicates += 1
        elif outcome.status == "unmatched":
            report.unmatched.append(outcome.order_id or "?")
        else:
            report.errors.append(f"line {line}: " + "; ".join(outcome.errors))
    return report


def import_csv(s: Session, path_or_stream: Union[str, os.PathLike[str], IO[Any]],
               kb: Optional[KnowledgeBase]) -> ImportReport:
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
