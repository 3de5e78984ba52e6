"""Text output and actions of `flask purchases unmatched` (kept apart from the click wiring)."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Optional

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Client, UnmatchedOrder

if TYPE_CHECKING:
    from types import ModuleType


def print_waiting(rows: list[Any]) -> None:
    if not rows:
        click.echo("no unmatched orders")
        return
    click.echo("order_id\tproduct\tamount_rub\tpaid_at\temail\tphone\tsource\tcandidates (vk_id)")
    for r in rows:
        cands = ", ".join(f"{c.vk_id} {c.name}" for c in r.candidates) or "-"
        click.echo("\t".join([r.order_id, r.product_id, str(r.amount_rub), r.paid_at,
                              r.email or "-", r.phone or "-", r.source, cands]))


def act(s: Session, unmatched: ModuleType, confirm_order: Optional[str], vk_id: Optional[int],
        dismiss_order: Optional[str], now: datetime) -> tuple[bool, str]:
    order_id = confirm_order or dismiss_order
    row = s.execute(select(UnmatchedOrder).where(
        UnmatchedOrder.order_id == order_id)).scalar_one_or_none()
    if row is None:
        return False, f"no unmatched order {order_id!r}"
    if dismiss_order:
        dismissed: tuple[bool, str] = unmatched.dismiss(s, row.id, now)
        return dismissed
    if vk_id is None:
        return False, "--confirm needs --vk-id (one of the candidates)"
    client = s.execute(select(Client).where(Client.vk_id == vk_id)).scalar_one_or_none()
    if client is None:
        return False, f"no client with vk_id {vk_id}"
    confirmed: tuple[bool, str] = unmatched.confirm(s, row.id, client.id, now)
    return confirmed
