"""The client card: views for the brain, validated updates with an audit trail."""
from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Optional, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.brain.contract import OfferView, PurchaseView
from app.crm.purchases.access_math import PaidItem, compute_access
from app.models import FUNNEL_STAGES, Client, ClientChange, IssuedOffer, Purchase

if TYPE_CHECKING:
    from app.brain.analysis import Facts
    from app.knowledge.base import KnowledgeBase

EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,24}$")
TEXT_FIELDS = ("level", "goal", "instrument", "age_group", "budget")  # facts the analysis has
FIELD_LIMITS = {"first_name": 100, "last_name": 100, "level": 100, "instrument": 100,
                "age_group": 50, "budget": 100, "city": 100, "goal": 1000}


def normalize_email(value: Optional[str]) -> Optional[str]:
    if not value:
        return None
    value = value.strip().strip(".,;:()<>\"'").lower()
    return value if EMAIL_RE.match(value) and len(value) <= 254 else None


def normalize_phone(value: Optional[str]) -> Optional[str]:
    """Russian and international numbers → +<digits>; anything implausible → None."""
    if not value:
        return None
    digits = re.sub(r"\D", "", value)
    if len(digits) == 11 and digits[0] == "8":
        digits = "7" + digits[1:]
    elif len(digits) == 10 and digits[0] == "9":
        digits = "7" + digits
    if not 11 <= len(digits) <= 15:
        return None
    return "+" + digits


def record_change(s: Session, client: Client, field: str, new: object, source: str) -> bool:
    old = getattr(client, field)
    if old == new:
        return False
    setattr(client, field, new)
    s.add(ClientChange(client_id=client.id, field=field,
                       old_value=None if old is None else str(old),
                       new_value=None if new is None else str(new), source=source))
    return True


CONTACTS = ("email", "phone")


def set_contact(s: Session, client: Client, field: str, value: Optional[str], source: str,
                verified: bool, origin: Optional[str] = None) -> bool:
    """Store a contact with where it came from (`origin`, default the audit `source`) and
    whether it is proven. True when changed."""
    changed = record_change(s, client, field, value, source)
    if changed or verified != getattr(client, f"{field}_verified"):
        setattr(client, f"{field}_verified", bool(value) and verified)
        setattr(client, f"{field}_source", (origin or source)[:120] if value else None)
        changed = True
    return changed


def claim_contact(s: Session, client: Client, field: str, value: Optional[str],
                  source: str) -> bool:
    """What the client typed in chat: a claim. It never replaces a proven contact."""
    if not value or value == getattr(client, field):
        return False
    if getattr(client, f"{field}_verified"):
        return False
    return set_contact(s, client, field, value, source, verified=False)


def prove_contact(s: Session, client: Client, field: str, value: Optional[str],
                  source: str, origin: Optional[str] = None) -> bool:
    """A contact proven by staff (by hand, or by attaching a waiting order): it replaces a claim,
    fills an empty field, and never overwrites another proven value."""
    if not value:
        return False
    current, proven = getattr(client, field), getattr(client, f"{field}_verified")
    if current and current != value and proven:
        return False
    if current == value and proven:
        return False
    return set_contact(s, client, field, value, source, verified=True, origin=origin)


MAX_OBJECTIONS, OBJECTION_CHARS = 10, 120


def merge_objections(current: Optional[Sequence[object]],
                     heard: Optional[Sequence[object]]) -> list[str]:
    """The card's objections plus the new ones the model heard (the client's words, kept in
    their own field: never in the staff's notes), without repeats, the latest MAX_OBJECTIONS."""
    out = [o for o in (current or []) if isinstance(o, str)]
    for item in (heard or [])[:5]:
        text = item.strip()[:OBJECTION_CHARS] if isinstance(item, str) else ""
        if text and text not in out:
            out.append(text)
    return out[-MAX_OBJECTIONS:]


def plain_name(value: object, limit: int = 60) -> str:
    """A name the model heard: letters, spaces and hyphens only (no formula, markup or digits),
    with a letter first; anything else is not a name and is dropped ("")."""
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > limit or not name[0].isalpha():
        return ""
    return name if all(c.isalpha() or c in " -" for c in name) else ""


def apply_facts(s: Session, client: Client, facts: Facts, source: str) -> list[str]:
    """Copy validated facts to the card; a worse guess never overwrites a good value.
    Contacts from chat are stored as unverified claims (see `claim_contact`)."""
    changed: list[str] = []
    email = normalize_email(facts.email)
    if email and claim_contact(s, client, "email", email, source):
        changed.append("email")
    phone = normalize_phone(facts.phone)
    if phone and claim_contact(s, client, "phone", phone, source):
        changed.append("phone")
    name = plain_name(facts.name)
    if name and not client.first_name:
        record_change(s, client, "first_name", name.split()[0].capitalize(), source)
        changed.append("first_name")
    for field in TEXT_FIELDS:
        value = getattr(facts, field, None)
        if isinstance(value, str) and value.strip():
            value = value.strip()[: FIELD_LIMITS.get(field, 200)]
            if record_change(s, client, field, value, source):
                changed.append(field)
    merged = merge_objections(client.objections, facts.objections)
    if merged != list(client.objections or []):
        record_change(s, client, "objections", merged, source)
        changed.append("objections")
    return changed


def set_stage(s: Session, client: Client, stage: str, source: str, owns_products: bool) -> bool:
    """Funnel stage with history; a client who has bought never falls back to a lead stage."""
    if stage not in FUNNEL_STAGES:
        return False
    if owns_products and stage in ("cold", "warm", "hot"):
        stage = "returning" if client.funnel_stage == "returning" else "client"
    return record_change(s, client, "funnel_stage", stage, source)


def paid_items(s: Session, client_id: int) -> list[PaidItem]:
    rows = s.execute(select(Purchase).where(Purchase.client_id == client_id)).scalars().all()
    return [PaidItem(p.product_id, p.paid_at) for p in rows]


def purchases_view(s: Session, client_id: int, kb: Optional[KnowledgeBase]) -> list[PurchaseView]:
    access = compute_access(paid_items(s, client_id), kb)
    views = []
    for product_id, acc in sorted(access.items(), key=lambda kv: kv[1].first_paid_at):
        product = kb.product(product_id) if kb is not None else None
        title = product.title if product is not None else product_id
        views.append(PurchaseView(product_id, title, acc.first_paid_at, acc.until))
    return views


def offers_view(s: Session, client_id: int, now: datetime) -> list[OfferView]:
    rows = s.execute(select(IssuedOffer).where(IssuedOffer.client_id == client_id)
                     .order_by(IssuedOffer.id)).scalars().all()
    return [OfferView(o.offer_id, o.kind, o.code, o.percent, o.product_id, o.expires_at)  # type: ignore[arg-type]
            for o in rows if o.expires_at is None or o.expires_at > now]
