"""A client's whole card as plain data: for `clients show` and the staff panel."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Optional
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crm.cards import purchases_view
from app.models import Client, Dialog, IssuedOffer, Purchase, Reminder, Turn

if TYPE_CHECKING:
    from app.knowledge.base import KnowledgeBase

CARD_FIELDS = ("vk_id", "first_name", "last_name", "email", "email_verified", "email_source",
               "phone", "phone_verified", "phone_source", "city", "timezone", "level",
               "goal", "instrument", "age_group", "budget", "funnel_stage", "tags", "notes",
               "objections", "can_write", "bot_paused")


def _iso(value: Optional[datetime], tz: Optional[str] = None) -> Optional[str]:
    if value is None:
        return None
    return (value.astimezone(ZoneInfo(tz)) if tz else value).isoformat()


def client_report(s: Session, vk_id: int, kb: Optional[KnowledgeBase], now: datetime,
                  turns: int = 5) -> Optional[dict[str, Any]]:
    client = s.execute(select(Client).where(Client.vk_id == vk_id)).scalar_one_or_none()
    if client is None:
        return None
    tz = client.timezone
    card = {f: getattr(client, f) for f in CARD_FIELDS}
    dialog = s.execute(select(Dialog).where(Dialog.client_id == client.id)).scalar_one_or_none()
    return {
        "card": card,
        "dialog": _dialog(dialog, tz),
        "purchases": _purchases(s, client.id, tz),
        "access": [{"product_id": p.product_id, "title": p.title,
                    "until": _iso(p.access_until, tz), "lifetime": p.access_until is None,
                    "active": p.access_until is None or p.access_until > now}
                   for p in purchases_view(s, client.id, kb)],
        "offers": [{"offer_id": o.offer_id, "kind": o.kind, "code": o.code, "percent": o.percent,
                    "product_id": o.product_id, "expires_at": _iso(o.expires_at, tz),
                    "active": o.expires_at is None or o.expires_at > now}
                   for o in s.execute(select(IssuedOffer).where(
                       IssuedOffer.client_id == client.id).order_by(IssuedOffer.id)).scalars()],
        "reminders": [reminder_row(r, tz) for r in s.execute(select(Reminder).where(
            Reminder.client_id == client.id).order_by(Reminder.due_at)).scalars()],
        "turns": _turns(s, dialog, turns) if dialog else [],
    }


def _dialog(dialog: Optional[Dialog], tz: str) -> Optional[dict[str, Any]]:
    if dialog is None:
        return None
    return {"id": dialog.id, "peer_id": dialog.peer_id, "needs_human": dialog.needs_human,
            "human_until": _iso(dialog.human_until, tz),
            "last_inbound_at": _iso(dialog.last_inbound_at, tz),
            "reply_due_at": _iso(dialog.reply_due_at, tz)}


def _purchases(s: Session, client_id: int, tz: str) -> list[dict[str, Any]]:
    rows = s.execute(select(Purchase).where(Purchase.client_id == client_id)
                     .order_by(Purchase.paid_at)).scalars()
    return [{"order_id": p.order_id, "product_id": p.product_id, "amount_rub": p.amount_rub,
             "paid_at": _iso(p.paid_at, tz), "source": p.source} for p in rows]


def reminder_row(r: Reminder, tz: str) -> dict[str, Any]:
    return {"id": r.id, "kind": r.kind, "due_at": _iso(r.due_at, tz), "status": r.status,
            "is_default": r.is_default, "agreed": r.context or r.source_text,
            "source_text": r.source_text, "reason": r.status_reason}


def _turns(s: Session, dialog: Dialog, limit: int) -> list[dict[str, Any]]:
    rows = s.execute(select(Turn).where(Turn.dialog_id == dialog.id)
                     .order_by(Turn.id.desc()).limit(limit)).scalars().all()
    return [{"id": t.id, "kind": t.kind, "status": t.status, "attempts": t.attempts,
             "started_at": _iso(t.started_at), "reply": t.reply_text, "analysis": t.analysis,
             "decisions": t.decisions, "flags": t.flags, "usage": t.usage, "brain": t.brain,
             "prompt_version": t.prompt_version, "timings": t.timings, "error": t.error}
            for t in reversed(rows)]
