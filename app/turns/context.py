"""Building a `TurnContext` from the database: the card, the burst, a bounded history, summary."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.brain.contract import ClientCard, Direction, HistoryMessage, PreviousTurn, TurnContext
from app.brain.prompts.render import ru_moment
from app.knowledge.base import KnowledgeBase
from app.knowledge.search import KnowledgeIndex
from app.models import Client, Dialog, Message, Reminder, ReminderStatus, Turn
from app.vk.inbound.attachments import Media, Voice, from_stored, with_notes

SUMMARY_MAX_CHARS = 1500
SUMMARY_LINE_CHARS = 160
SUMMARY_HEAD_CHARS = 500  # the start of the dialog (goal, who learns) is kept whole
SUMMARY_GAP = "…"


@dataclass
class DialogState:
    """What the pipeline needs besides the context: where to send and whether it may."""

    dialog_id: int
    client_id: int
    peer_id: int
    may_send: bool
    silent_reason: Optional[str]
    needs_names: bool
    # files of the burst to download for the model: (message id, its text was empty, media)
    media_refs: list[tuple[int, bool, Media]] = field(default_factory=list)
    capabilities: dict[str, Any] = field(default_factory=dict)  # the client's VK app
    kind: str = "reply"
    last_inbound_at: Optional[datetime] = None
    last_had_keyboard: bool = False  # the previous bot message offered buttons
    subscribed: bool = False  # a proactive kind's intent: the client subscribed to it


def card_from_client(s: Session, client: Client, now: datetime, kb: Optional[KnowledgeBase]) -> ClientCard:
    from app.crm.cards import offers_view, purchases_view  # card extras live in crm
    from app.crm.purchases.unmatched import pending_for

    answered = s.execute(select(Message.id).join(Dialog, Dialog.id == Message.dialog_id).where(
        Dialog.client_id == client.id, Message.direction == "out",
        Message.held_back.is_(False)).limit(1)).first()
    return ClientCard(
        vk_id=client.vk_id, first_name=client.first_name, last_name=client.last_name,
        email=client.email, phone=client.phone, funnel_stage=client.funnel_stage,
        timezone=client.timezone, level=client.level, goal=client.goal,
        instrument=client.instrument, age_group=client.age_group, budget=client.budget,
        notes=client.notes, tags=list(client.tags or []),
        objections=[o for o in (client.objections or []) if isinstance(o, str)],
        purchases=purchases_view(s, client.id, kb), offers=offers_view(s, client.id, now),
        is_new=answered is None, order_check_pending=pending_for(s, client.id) > 0,
    )


def _history(s: Session, dialog_id: int, before_id: int, window: int) -> list[HistoryMessage]:
    rows = s.execute(select(Message).where(  # a held-back reply was never sent: not history
        Message.dialog_id == dialog_id, Message.id <= before_id, Message.held_back.is_(False))
        .order_by(Message.id.desc()).limit(window)).scalars().all()
    return [as_history(m) for m in reversed(rows)]


def as_history(m: Message) -> HistoryMessage:
    """A stored message as the model reads it: text plus bracketed notes of its attachments."""
    items = from_stored(m.attachments) if m.direction == "in" else []
    direction: Direction = "in" if m.direction == "in" else "out"  # the column holds only these two
    return HistoryMessage(direction, with_notes(m.text or "", items, m.transcribed),
                          m.created_at)


def _heard(m: Message) -> str:
    """Typed text, or a voice note's transcript (stored as the text, or VK's own)."""
    if m.text:
        return m.text
    voice = next((i for i in from_stored(m.attachments) if isinstance(i, Voice)), None)
    return (voice.transcript or "") if voice is not None else ""


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


def load_turn_context(s: Session, turn: Turn, now: datetime, kb: Optional[KnowledgeBase],
                      kb_index: Optional[KnowledgeIndex],
                      window: int, bot_paused: bool) -> tuple[TurnContext, DialogState]:
    dialog = s.get(Dialog, turn.dialog_id)
    assert dialog is not None, f"turn {turn.id}: its dialog exists (foreign key)"
    client = s.get(Client, dialog.client_id)
    assert client is not None, f"dialog {dialog.id}: its client exists (foreign key)"
    new = _new_messages(s, dialog, turn.upto_message_id) if turn.kind == "reply" else []
    first_new = new[0].id if new else turn.upto_message_id + 1
    ctx = TurnContext(
        turn_id=turn.id, now=now, card=card_from_client(s, client, now, kb),
        new_messages=[as_history(m) for m in new],
        history=_history(s, dialog.id, first_new - 1, window), summary=dialog.summary or "",
        kb=kb, kb_index=kb_index, kind=turn.kind,  # type: ignore[arg-type]
        reminder_context=_reminder_context(s, turn),
        plain_text="\n".join(m.text for m in new if m.text and not m.transcribed),
        heard_text="\n".join(_heard(m) for m in new if _heard(m)),
        missed_agreements=missed_agreements(s, client, dialog) if new else [],
        previous=previous_turn(s, dialog.id, turn.id),
    )
    reason = silent_reason(client, dialog, now, bot_paused)
    state = DialogState(dialog.id, client.id, dialog.peer_id, reason is None, reason,
                        client.names_fetched_at is None,
                        capabilities=dict(client.vk_capabilities or {}), kind=turn.kind,
                        last_inbound_at=dialog.last_inbound_at,
                        last_had_keyboard=_last_had_keyboard(s, dialog.id))
    for m in new:
        for item in from_stored(m.attachments):
            ctx.inbound_kinds.append(item.kind)
            if isinstance(item, Voice) and (m.transcribed or item.transcript):
                continue  # VK's transcript is the text, or is in the note already
            state.media_refs.append((m.id, not (m.text or "").strip(), item))
    return ctx, state


def previous_turn(s: Session, dialog_id: int, turn_id: int) -> Optional[PreviousTurn]:
    """The step, strategy and known facts of the dialog's last turn that has an analysis."""
    row = s.execute(select(Turn.analysis).where(
        Turn.dialog_id == dialog_id, Turn.id < turn_id, Turn.analysis.is_not(None))
        .order_by(Turn.id.desc()).limit(1)).scalar_one_or_none()
    if not isinstance(row, dict):
        return None

    def text(key: str) -> str:
        value = row.get(key)
        return str(value)[:400] if isinstance(value, (str, int, float)) and value else ""

    raw_known = row.get("known")
    known: dict[object, object] = raw_known if isinstance(raw_known, dict) else {}
    return PreviousTurn(step=text("conversation_step"),
                        short_term_strategy=text("short_term_strategy"),
                        long_term_strategy=text("long_term_strategy"),
                        known={str(k): str(v)[:200] for k, v in known.items()
                               if isinstance(v, (str, int, float)) and v},
                        next_question=text("next_question"))


def _last_had_keyboard(s: Session, dialog_id: int) -> bool:
    row = s.execute(select(Message.keyboard).where(
        Message.dialog_id == dialog_id, Message.direction == "out", Message.source == "bot")
        .order_by(Message.id.desc()).limit(1)).first()
    return bool(row and row[0])


def missed_agreements(s: Session, client: Client, dialog: Dialog) -> list[str]:
    """Reminders VK refused since the school last wrote: the reply should own up to them."""
    q = select(Reminder).where(Reminder.client_id == client.id,
                               Reminder.status == ReminderStatus.REFUSED)
    if dialog.last_outbound_at is not None:
        q = q.where(Reminder.refused_at > dialog.last_outbound_at)
    rows = s.execute(q.order_by(Reminder.due_at).limit(3)).scalars().all()
    return [f"{ru_moment(r.due_at, client.timezone)}: "
            f"{(r.context or r.source_text or 'связаться')[:300]}" for r in rows]


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
    dialog.summary = bounded_summary([x for x in lines if x])
    dialog.summary_upto_id = keep


def bounded_summary(lines: list[str]) -> str:
    """At most SUMMARY_MAX_CHARS: the head of the dialog (where the client said who learns and
    why) stays whole, then «…», then the newest lines. Stable: a summary folded again keeps
    the same head."""
    lines = [x for y in lines for x in y.split("\n") if x.strip()]
    text = "\n".join(lines)
    if len(text) <= SUMMARY_MAX_CHARS:
        return text
    head: list[str] = []
    used = 0
    for line in lines:
        if line == SUMMARY_GAP or used + len(line) + 1 > SUMMARY_HEAD_CHARS:
            break
        head.append(line)
        used += len(line) + 1
    rest = [x for x in lines[len(head):] if x != SUMMARY_GAP]
    room = SUMMARY_MAX_CHARS - used - len(SUMMARY_GAP) - 1
    tail: list[str] = []
    for line in reversed(rest):
        if len(line) + 1 > room:
            break
        tail.insert(0, line)
        room -= len(line) + 1
    return "\n".join(head + [SUMMARY_GAP] + tail)[:SUMMARY_MAX_CHARS]
