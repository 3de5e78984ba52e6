"""Rows for tests, built the way the app builds them (defaults filled, links real)."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from sqlalchemy.orm import Session

from app.models import Client, Dialog, IssuedOffer, Message, Purchase, Reminder, Turn, TurnKind, TurnStatus

_seq = itertools.count(1)
NOW = datetime(2026, 11, 25, 11, 30, tzinfo=timezone.utc)


def client(s: Session, vk_id: Optional[int] = None, **fields: Any) -> Client:
    row = Client(vk_id=vk_id or 50_000 + next(_seq), **fields)
    s.add(row)
    s.flush()
    return row


def dialog(s: Session, owner: Optional[Client] = None, **fields: Any) -> Dialog:
    owner = owner or client(s)
    row = Dialog(client_id=owner.id, peer_id=owner.vk_id, **fields)
    s.add(row)
    s.flush()
    return row


def message(s: Session, in_dialog: Dialog, text: str, direction: str = "in",
            **fields: Any) -> Message:
    fields.setdefault("source", "client" if direction == "in" else "bot")
    fields.setdefault("created_at", NOW)
    row = Message(dialog_id=in_dialog.id, direction=direction, text=text, **fields)
    s.add(row)
    s.flush()
    return row


def turn(s: Session, in_dialog: Optional[Dialog] = None, **fields: Any) -> Turn:
    in_dialog = in_dialog or dialog(s)
    values: dict[str, Any] = dict(kind=TurnKind.REPLY, status=TurnStatus.DONE, upto_message_id=0,
                                  attempts=1, started_at=NOW, flags=[], usage={}, timings={})
    values.update(fields)
    row = Turn(dialog_id=in_dialog.id, **values)
    s.add(row)
    s.flush()
    return row


def purchase(s: Session, owner: Client, product_id: str, amount_rub: int = 1,
             paid_at: datetime = NOW - timedelta(days=30), **fields: Any) -> Purchase:
    fields.setdefault("source", "staff")
    row = Purchase(order_id=fields.pop("order_id", f"o-{owner.id}-{next(_seq)}"),
                   client_id=owner.id, product_id=product_id, amount_rub=amount_rub,
                   paid_at=paid_at, **fields)
    s.add(row)
    s.flush()
    return row


def offer(s: Session, owner: Client, offer_id: str, percent: Optional[int] = 10,
          **fields: Any) -> IssuedOffer:
    fields.setdefault("kind", "discount" if percent else "bonus")
    row = IssuedOffer(client_id=owner.id, offer_id=offer_id, percent=percent, **fields)
    s.add(row)
    s.flush()
    return row


def reminder(s: Session, owner: Client, due_at: datetime, **fields: Any) -> Reminder:
    fields.setdefault("agreed_at", NOW)
    row = Reminder(client_id=owner.id, due_at=due_at, **fields)
    s.add(row)
    s.flush()
    return row
