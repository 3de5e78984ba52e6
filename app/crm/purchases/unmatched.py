"""Orders that matched only a contact a client *claimed* in chat: staff confirm or dismiss them.

Listed in the panel (/admin/purchases/unmatched) and by `flask --app app purchases unmatched`.
Confirming attaches the order to the chosen candidate (one click) and proves the contact.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crm.purchases.store import row_from_payload, store
from app.models import Client, OrderCheck, Purchase, UnmatchedOrder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    client_id: int
    vk_id: int
    name: str
    email: Optional[str]
    phone: Optional[str]


@dataclass(frozen=True)
class WaitingOrder:
    id: int
    order_id: str
    product_id: str
    amount_rub: int
    paid_at: str
    email: Optional[str]
    phone: Optional[str]
    source: str
    created_at: datetime
    candidates: tuple[Candidate, ...]


def waiting(s: Session, limit: int = 200) -> list[WaitingOrder]:
    rows = s.execute(select(UnmatchedOrder).where(UnmatchedOrder.status == OrderCheck.WAITING)
                     .order_by(UnmatchedOrder.id).limit(limit)).scalars().all()
    ids = {int(c) for r in rows for c in (r.candidate_ids or [])}
    clients = {c.id: c for c in s.execute(select(Client).where(Client.id.in_(ids))).scalars()}
    out = []
    for r in rows:
        p = r.payload
        cands = tuple(Candidate(c.id, c.vk_id, c.display_name, c.email, c.phone)
                      for c in (clients.get(int(i)) for i in r.candidate_ids or []) if c)
        out.append(WaitingOrder(r.id, r.order_id, p["product_id"], int(p["amount_rub"]),
                                p["paid_at"], p.get("email"), p.get("phone"), r.source,
                                r.created_at, cands))
    return out


def confirm(s: Session, unmatched_id: int, client_id: int, now: datetime) -> tuple[bool, str]:
    """Attach the waiting order to one of its candidates; the order proves that contact."""
    u = s.execute(select(UnmatchedOrder).where(UnmatchedOrder.id == unmatched_id)
                  .with_for_update()).scalar_one_or_none()
    if u is None or u.status != OrderCheck.WAITING:
        return False, "Заказ не найден или уже разобран"
    if client_id not in [int(c) for c in u.candidate_ids or []]:
        return False, "Этот клиент не кандидат для заказа"
    client = s.get(Client, client_id)
    if client is None:
        return False, "Клиент не найден"
    if s.execute(select(Purchase.id).where(Purchase.order_id == u.order_id)).first():
        u.status, u.resolved_at = OrderCheck.CONFIRMED, now
        return False, "Заказ уже привязан"
    store(s, client, row_from_payload(u.payload), u.source, f"staff:order:{u.order_id}")
    u.status, u.resolved_client_id, u.resolved_at = OrderCheck.CONFIRMED, client.id, now
    log.info("unmatched order %s confirmed for client %s", u.order_id, client.vk_id)
    return True, f"Заказ {u.order_id} привязан к клиенту {client.display_name}"


def dismiss(s: Session, unmatched_id: int, now: datetime) -> tuple[bool, str]:
    u = s.get(UnmatchedOrder, unmatched_id)
    if u is None or u.status != OrderCheck.WAITING:
        return False, "Заказ не найден или уже разобран"
    u.status, u.resolved_at = OrderCheck.DISMISSED, now
    return True, f"Заказ {u.order_id} отклонён: ни к кому не привязан"


def pending_for(s: Session, client_id: int) -> int:
    """How many waiting orders name this client as a candidate (for the reply prompt)."""
    rows = s.execute(select(UnmatchedOrder.candidate_ids)
                     .where(UnmatchedOrder.status == OrderCheck.WAITING)).scalars().all()
    return sum(1 for ids in rows if client_id in [int(c) for c in ids or []])
