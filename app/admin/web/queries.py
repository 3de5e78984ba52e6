"""Read-only queries behind the panel's pages (SQLAlchemy 2 `select()`, no lazy loads)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Optional
from zoneinfo import ZoneInfo

from sqlalchemy import Date, cast, distinct, func, select
from sqlalchemy.orm import Session

from app.crm.card_view import client_report
from app.knowledge.base import KnowledgeBaseError, load_kb
from app.models import Client, ClientChange, Dialog, Message, OfferDecisionLog, Reminder, ReminderStatus, Turn
from app.payments import panel as payment_panel
from app.reminders.consent import followups_sent, reachability

if TYPE_CHECKING:
    from app.knowledge.base import KnowledgeBase, KnowledgeStore

PAGE_SIZE = 50
TIMELINE_LIMIT = 200
STATUS_LABELS = {"bot": "бот", "paused": "на паузе", "human": "человек"}


def dialog_status(client: Client, dialog: Dialog, now: datetime, global_paused: bool) -> str:
    if global_paused or client.bot_paused:
        return "paused"
    if dialog.human_until is not None and dialog.human_until > now:
        return "human"
    return "bot"


@dataclass
class DialogRow:
    dialog: Dialog
    client: Client
    status: str
    pending_reminders: int
    last: Optional[Message]


def dialogs_page(s: Session, now: datetime, global_paused: bool, stage: Optional[str],
                 needs_human: bool, page: int) -> tuple[list[DialogRow], int]:
    """One page of dialogs, newest activity first, and the total count under the filters."""
    conds = []
    if stage:
        conds.append(Client.funnel_stage == stage)
    if needs_human:
        conds.append(Dialog.needs_human.is_(True))
    total = s.execute(select(func.count(Dialog.id)).join(Client, Client.id == Dialog.client_id)
                      .where(*conds)).scalar_one()
    pending = (select(func.count(Reminder.id))
               .where(Reminder.client_id == Client.id, Reminder.status == ReminderStatus.PENDING)
               .correlate(Client).scalar_subquery())
    activity = func.coalesce(func.greatest(Dialog.last_inbound_at, Dialog.last_outbound_at),
                             Dialog.created_at)
    rows = s.execute(select(Dialog, Client, pending).join(Client, Client.id == Dialog.client_id)
                     .where(*conds).order_by(activity.desc(), Dialog.id.desc())
                     .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    last = _last_messages(s, [d.id for d, _, _ in rows])
    return [DialogRow(d, c, dialog_status(c, d, now, global_paused), n or 0, last.get(d.id))
            for d, c, n in rows], total


def _last_messages(s: Session, dialog_ids: list[int]) -> dict[int, Message]:
    if not dialog_ids:
        return {}
    last_ids = (select(func.max(Message.id)).where(Message.dialog_id.in_(dialog_ids))
                .group_by(Message.dialog_id))
    msgs = s.execute(select(Message).where(Message.id.in_(last_ids))).scalars()
    return {m.dialog_id: m for m in msgs}


def dialog_timeline(s: Session, dialog_id: int) -> Optional[dict[str, Any]]:
    """The dialog's last messages as a chat, each bot reply with its turn; silent turns too."""
    dialog = s.get(Dialog, dialog_id)
    if dialog is None:
        return None
    client = s.get(Client, dialog.client_id)
    assert client is not None, "dialogs.client_id is a foreign key"
    msgs = list(reversed(s.execute(select(Message).where(Message.dialog_id == dialog_id)
                                   .order_by(Message.id.desc()).limit(TIMELINE_LIMIT))
                         .scalars().all()))
    turns = {t.id: t for t in s.execute(select(Turn).where(Turn.dialog_id == dialog_id)
                                        .order_by(Turn.id.desc()).limit(TIMELINE_LIMIT)).scalars()}
    since = msgs[0].created_at if msgs else None
    items: list[tuple[tuple[datetime, int, int], dict[str, Any]]] = []
    for m in msgs:
        turn = turns.get(m.turn_id) if m.turn_id and not m.part else None
        items.append(((m.created_at, 0, m.id), {"msg": m, "turn": turn}))
    with_messages = {m.turn_id for m in msgs if m.turn_id}
    for t in turns.values():
        if t.id not in with_messages and (since is None or t.started_at >= since):
            items.append(((t.finished_at or t.started_at, 1, t.id), {"msg": None, "turn": t}))
    items.sort(key=lambda kv: kv[0])
    states = {r["id"]: r["status_label"] for r in payment_panel.links_of(s, client.id)}
    why = {r.id: r.context for r in s.execute(select(Reminder).where(Reminder.id.in_(
        [t.reminder_id for t in turns.values() if t.reminder_id]))).scalars()}
    return {"dialog": dialog, "client": client, "entries": [v for _, v in items],
            "truncated": len(msgs) >= TIMELINE_LIMIT, "payment_states": states, "why": why}


def client_card(s: Session, vk_id: int, kb: Optional[KnowledgeBase], now: datetime,
                window_hours: float = 24.0) -> Optional[dict[str, Any]]:
    report = client_report(s, vk_id, kb, now, turns=0)
    if report is None:
        return None
    client = s.execute(select(Client).where(Client.vk_id == vk_id)).scalar_one()
    report["client"] = client
    report["changes"] = s.execute(select(ClientChange).where(ClientChange.client_id == client.id)
                                  .order_by(ClientChange.id.desc()).limit(100)).scalars().all()
    report["decisions"] = s.execute(
        select(OfferDecisionLog).where(OfferDecisionLog.client_id == client.id)
        .order_by(OfferDecisionLog.id.desc()).limit(50)).scalars().all()
    report["payment_links"] = payment_panel.links_of(s, client.id)
    dialog = s.execute(select(Dialog).where(Dialog.client_id == client.id)).scalar_one_or_none()
    report["reach"] = reachability(s, client, dialog, now, window_hours)
    report["followups"] = followups_sent(s, client.id)
    for r in report["reminders"]:
        r["local_input"] = (datetime.fromisoformat(r["due_at"]).strftime("%Y-%m-%dT%H:%M")
                            if r["due_at"] else "")
    return report


def kb_status(kb_store: KnowledgeStore, path: str) -> dict[str, Any]:
    current = kb_store.current if kb_store.loaded else None
    disk_version, disk_errors = None, []
    try:
        disk_version = load_kb(path).version
    except KnowledgeBaseError as exc:
        disk_errors = exc.errors
    return {"current": current, "path": path, "disk_version": disk_version,
            "disk_errors": disk_errors,
            "products": len(current.products) if current else 0,
            "faq": len(current.faq_entries) if current else 0}


def dashboard(s: Session, now: datetime, tz: str) -> dict[str, Any]:
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    first_day = today - timedelta(days=13)
    since_14 = datetime.combine(first_day, datetime.min.time(), zone)
    day = cast(func.timezone(tz, Message.created_at), Date)
    per_day = dict(s.execute(
        select(day, func.count(distinct(Message.dialog_id)))
        .where(Message.direction == "in", Message.created_at >= since_14).group_by(day)).all())
    days = [(first_day + timedelta(days=i), per_day.get(first_day + timedelta(days=i), 0))
            for i in range(14)]
    since_30 = now - timedelta(days=30)
    transitions = s.execute(
        select(ClientChange.old_value, ClientChange.new_value, func.count())
        .where(ClientChange.field == "funnel_stage", ClientChange.created_at >= since_30)
        .group_by(ClientChange.old_value, ClientChange.new_value)
        .order_by(func.count().desc())).all()
    reminders = dict(s.execute(select(Reminder.status, func.count())
                               .group_by(Reminder.status)).all())
    offers = dict(s.execute(select(OfferDecisionLog.granted, func.count())
                            .where(OfferDecisionLog.created_at >= since_30)
                            .group_by(OfferDecisionLog.granted)).all())
    return {"days": days, "max_day": max([n for _, n in days] + [1]),
            "transitions": transitions, "reminders": reminders,
            "offers": {"granted": offers.get(True, 0), "refused": offers.get(False, 0)},
            "flags": _flag_counts(s, since_30),
            "turns": s.execute(select(func.count(Turn.id))
                               .where(Turn.started_at >= since_30)).scalar_one()}


def _flag_counts(s: Session, since: datetime) -> list[tuple[str, int]]:
    """Turns per flag (fallbacks, guardrails, silent reasons) over the period."""
    flags = (select(Turn.id.label("turn_id"),
                    func.jsonb_array_elements_text(Turn.flags).label("flag"))
             .where(Turn.started_at >= since).subquery())
    rows = s.execute(select(flags.c.flag, func.count(distinct(flags.c.turn_id)))
                     .group_by(flags.c.flag).order_by(flags.c.flag)).all()
    return [(flag, n) for flag, n in rows]
