"""Building a `TurnContext` from the database: the card, the burst, a bounded history, summary."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.brain.types import ClientCard, HistoryMessage, TurnContext
from app.knowledge.base import KnowledgeBase
from app.knowledge.search import KnowledgeIndex
from app.models import Client, Dialog, Message, Reminder, Turn

SUMMARY_MAX_CHARS = 1500
SUMMARY_LINE_CHARS = 160


@dataclass
class DialogState:
    """What the pipeline needs besides the context: where to send and whether it may."""

    dialog_id: int
    client_id: int
    peer_id: int
    may_send: bool
    silent_reason: Optional[str]
    needs_names: bool


def card_from_client(s: Session, client: Client, now: datetime, kb: Optional[KnowledgeBase]) -> ClientCard:
    from app.crm.cards import purchases_view, offers_view  # card extras live in crm
    from app.crm.unmatched import pending_for

    answered = s.execute(select(Message.id).join(Dialog, Dialog.id == Message.dialog_id).where(
        Dialog.client_id == client.id, Message.direction == "out",
        Message.held_back.is_(False)).limit(1)).first()
    return ClientCard(
        vk_id=client.vk_id, first_name=client.first_name, last_name=client.last_name,
        email=client.email, phone=client.phone, funnel_stage=client.funnel_stage,
        timezone=client.timezone, level=client.level, goal=client.goal,
        instrument=client.instrument, age_group=client.age_group, budget=client.budget,
        notes=client.notes, tags=list(client.tags or []),
        purchases=purchases_view(s, client.id, kb), offers=offers_view(s, client.id, now),
        is_new=answered is None, order_check_pending=pending_for(s, client.id) > 0,
    )


def _history(s: Session, dialog_id: int, before_id: int, window: int) -> list[HistoryMessage]:
    rows = s.execute(select(Message).where(  # a held-back reply was never sent: not history
        Message.dialog_id == dialog_id, Message.id <= before_id, Message.held_back.is_(False))
        .order_by(Message.id.desc()).limit(window)).scalars().all()
    return [HistoryMessage(m.direction, m.text, m.created_at) for m in reversed(rows)]


def _new_messages(s: Session, dialog: Dialog, upto: int) -> list[Message]:
    return list(s.execute(select(Message).where(
        Message.dialog_id == dialog.id, Message.direction == "in",
        Message.id > dialog.answered_upto_id, Message.id <= upto)
        .order_by(Message.id)).scalars().all())


def silent_reason(client: Client, dialog: Dialog, now: datetime, bot_paused: bool) -> Optional[str]:
    if bot_paused:
        return "bot_paused"
    if client.bot_paused:
        return "client_paused"
    if dialog.human_until is not None and dialog.human_until > now:
        return "human_handoff"
    if not client.can_write:
        return "cannot_write"
    return None


def load_turn_context(s: Session, turn: Turn, now: datetime, kb: Optional[KnowledgeBase], kb_index: Optional[KnowledgeIndex],
                      window: int, bot_paused: bool) -> tuple[TurnContext, DialogState]:
    dialog = s.get(Dialog, turn.dialog_id)
    client = s.get(Client, dialog.client_id)
    new = _new_messages(s, dialog, turn.upto_message_id) if turn.kind == "reply" else []
    first_new = new[0].id if new else turn.upto_message_id + 1
    ctx = TurnContext(
        turn_id=turn.id, now=now, card=card_from_client(s, client, now, kb),
        new_messages=[HistoryMessage("in", m.text, m.created_at) for m in new],
        history=_history(s, dialog.id, first_new - 1, window), summary=dialog.summary or "",
        kb=kb, kb_index=kb_index, kind=turn.kind,  # type: ignore[arg-type]
        reminder_context=_reminder_context(s, turn),
    )
    reason = silent_reason(client, dialog, now, bot_paused)
    state = DialogState(dialog.id, client.id, dialog.peer_id, reason is None, reason,
                        client.names_fetched_at is None)
    return ctx, state


def _reminder_context(s: Session, turn: Turn) -> Optional[str]:
    if turn.reminder_id is None:
        return None
    r = s.get(Reminder, turn.reminder_id)
    if r is None:
        return None
    parts = [r.context or r.source_text or ""]
    if r.source_text and r.source_text not in parts[0]:
        parts.append(f"Слова клиента: «{r.source_text}»")
    if r.product_id:
        parts.append(f"Продукт: {r.product_id}")
    return "\n".join(p for p in parts if p)[:2000]


def roll_summary(s: Session, dialog: Dialog, window: int) -> None:
    """Fold messages that left the history window into a bounded plain-text summary."""
    keep = s.execute(select(Message.id).where(Message.dialog_id == dialog.id)
                     .order_by(Message.id.desc()).offset(window).limit(1)).scalar_one_or_none()
    if keep is None or keep <= dialog.summary_upto_id:
        return
    rows = s.execute(select(Message).where(
        Message.dialog_id == dialog.id, Message.id > dialog.summary_upto_id,
        Message.id <= keep).order_by(Message.id)).scalars().all()
    lines = [(dialog.summary or "").strip()]
    for m in (m for m in rows if not m.held_back):
        who = "Клиент" if m.direction == "in" else "Школа"
        text = " ".join((m.text or "").split())[:SUMMARY_LINE_CHARS]
        if text:
            lines.append(f"{m.created_at:%d.%m} {who}: {text}")
    summary = "\n".join(x for x in lines if x)
    dialog.summary = summary[-SUMMARY_MAX_CHARS:]
    dialog.summary_upto_id = keep
