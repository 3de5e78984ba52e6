"""Follow-ups after a silence, decided by code: a warm or hot lead whose last message was
answered and who has not written for `REENGAGE_AFTER_HOURS` gets one follow-up — while VK's
reply window (from the client's last message) is still open, in the client's waking hours, under
the weekly cap, with nothing else planned, nobody else handling the dialog and nothing that says
«don't». One per silence: the reminder row carries the id of the client's last message
(`silence_message_id`, unique). A new message from the client starts a new silence.

The planner only inserts a due reminder (kind `reengage`); the leader fires it at once as a
proactive turn (`turns.proactive`), which re-checks everything just before writing.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Optional

from sqlalchemy import ScalarSelect, Select, exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.models import (
    AppState,
    Client,
    Dialog,
    Message,
    Purchase,
    Reminder,
    ReminderStatus,
    Turn,
    TurnStatus,
    VkPermission,
)
from app.reminders.policy import PROACTIVE_KINDS, QuietHours

if TYPE_CHECKING:
    from app.knowledge.base import KnowledgeBase
    from app.platform.config import Settings
    from app.platform.db import Database

log = logging.getLogger(__name__)
KIND = "reengage"
# the follow-up must reach VK this long before the window closes (the model writes it first)
WINDOW_MARGIN = timedelta(minutes=10)
MISSING_FACTS = (("goal", "цель занятий"), ("level", "уровень подготовки"),
                 ("instrument", "есть ли инструмент"))
STAGE_WORDS = {"cold": "холодный", "warm": "тёплый", "hot": "горячий", "client": "клиент",
               "returning": "вернувшийся"}


@dataclass(frozen=True)
class ReengagePolicy:
    """The settings slice the planner reads."""

    after_hours: Optional[float]  # None: follow-ups are off
    stages: tuple[str, ...]
    window_hours: float
    weekly_cap: int
    quiet: Optional[QuietHours]

    @classmethod
    def of(cls, settings: Settings, kb: Optional[KnowledgeBase]) -> "ReengagePolicy":
        return cls(after_hours=settings.reengage_after_hours,
                   stages=settings.reengage_stage_list,
                   window_hours=settings.vk_reply_window_hours,
                   weekly_cap=settings.max_proactive_per_week,
                   quiet=QuietHours.parse(settings.quiet_hours, kb))

    @property
    def window(self) -> timedelta:
        return timedelta(hours=self.window_hours)

    def window_end(self, last_inbound_at: datetime) -> datetime:
        """The last moment a follow-up may still be handed to VK."""
        return last_inbound_at + self.window - WINDOW_MARGIN


@dataclass(frozen=True)
class Candidate:
    client_id: int
    dialog_id: int
    timezone: str
    stage: str
    last_inbound_at: datetime
    silence_message_id: int


def candidates_query(now: datetime, policy: ReengagePolicy) -> Select[Any]:
    """Every dialog that may earn its follow-up now (one statement). Quiet hours depend on each
    client's zone and are applied by the caller."""
    assert policy.after_hours is not None
    last_in = (select(func.max(Message.id)).where(Message.dialog_id == Dialog.id,
                                                  Message.direction == "in")
               .correlate(Dialog).scalar_subquery())
    silence = last_in.label("silence_id")
    inner = (select(Dialog.id.label("dialog_id"), Dialog.client_id, Dialog.last_inbound_at,
                    Client.timezone, Client.funnel_stage, silence)
             .join(Client, Client.id == Dialog.client_id)
             .where(
                 Client.funnel_stage.in_(policy.stages),
                 Dialog.last_inbound_at <= now - timedelta(hours=policy.after_hours),
                 Dialog.last_inbound_at > now - policy.window + WINDOW_MARGIN,
                 Dialog.reply_due_at.is_(None),
                 or_(Dialog.claimed_until.is_(None), Dialog.claimed_until < now),
                 or_(Dialog.human_until.is_(None), Dialog.human_until <= now),
                 Dialog.needs_human.is_(False),
                 Client.can_write.is_(True), Client.bot_paused.is_(False),
                 Client.vk_permission != VkPermission.DENIED,
                 Client.unreachable_at.is_(None), Client.asked_not_to_write_at.is_(None),
                 ~exists().where(Purchase.client_id == Client.id,
                                 Purchase.paid_at >= Dialog.last_inbound_at),
                 ~exists().where(Reminder.client_id == Client.id, or_(
                     Reminder.status.in_((ReminderStatus.PENDING, ReminderStatus.SENDING)),
                     Reminder.sent_at > Dialog.last_inbound_at)),
                 _proactive_count(now) < policy.weekly_cap,
             ).subquery())
    answered = exists().where(Message.dialog_id == inner.c.dialog_id, Message.direction == "out",
                              Message.source == "bot", Message.id > inner.c.silence_id,
                              Message.vk_message_id.is_not(None), Message.held_back.is_(False))
    by_staff = exists().where(Message.dialog_id == inner.c.dialog_id, Message.direction == "out",
                              Message.source == "staff", Message.id > inner.c.silence_id)
    done = exists().where(Reminder.silence_message_id == inner.c.silence_id)
    return select(inner).where(inner.c.silence_id.is_not(None), answered, ~by_staff, ~done)


def _proactive_count(now: datetime) -> ScalarSelect[int]:
    return (select(func.count(Turn.id)).where(
        Turn.dialog_id == Dialog.id, Turn.kind.in_(PROACTIVE_KINDS),
        Turn.status == TurnStatus.DONE, Turn.finished_at >= now - timedelta(days=7))
        .correlate(Dialog).scalar_subquery())


def due_candidates(s: Session, now: datetime, policy: ReengagePolicy) -> list[Candidate]:
    if policy.after_hours is None or AppState.flag(s, "bot_paused"):
        return []
    rows = s.execute(candidates_query(now, policy)).all()
    found = [Candidate(r.client_id, r.dialog_id, r.timezone, r.funnel_stage, r.last_inbound_at,
                       r.silence_id) for r in rows]
    return [c for c in found if policy.quiet is None
            or policy.quiet.next_allowed(now, c.timezone) == now]


def reason_text(s: Session, c: Candidate, now: datetime) -> str:
    """Why the follow-up is written and what it builds on (the prompt's task and the panel)."""
    hours = (now - c.last_inbound_at).total_seconds() / 3600
    lines = [f"Клиент молчит {hours:.0f} ч после ответа школы (этап: "
             f"{STAGE_WORDS.get(c.stage, c.stage)}). Один follow-up на эту паузу."]
    analysis = s.execute(select(Turn.analysis).where(
        Turn.dialog_id == c.dialog_id, Turn.kind == "reply", Turn.analysis.is_not(None))
        .order_by(Turn.id.desc()).limit(1)).scalar_one_or_none() or {}
    for key, label in (("intent", "Чего хотел клиент"),
                       ("long_term_strategy", "Долгосрочная стратегия")):
        value = analysis.get(key) if isinstance(analysis, dict) else None
        if isinstance(value, str) and value.strip():
            lines.append(f"{label}: {value.strip()[:300]}")
    client = s.get(Client, c.client_id)
    missing = [label for field, label in MISSING_FACTS if not getattr(client, field, None)]
    if missing:
        lines.append("Чего не знаем: " + ", ".join(missing) + ".")
    last = s.get(Message, c.silence_message_id)
    if last is not None and (last.text or "").strip():
        lines.append(f"Последнее сообщение клиента: «{' '.join(last.text.split())[:300]}»")
    return "\n".join(lines)[:2000]


def plan_followups(s: Session, now: datetime, policy: ReengagePolicy) -> int:
    """Insert the due follow-ups (one per silence, race-safe); returns how many were planned."""
    planned = 0
    for c in due_candidates(s, now, policy):
        row = s.execute(insert(Reminder).values(
            client_id=c.client_id, kind=KIND, due_at=now, agreed_at=c.last_inbound_at,
            status=ReminderStatus.PENDING, is_default=False, source_text="",
            context=reason_text(s, c, now), silence_message_id=c.silence_message_id,
            dedupe_key=f"silence:{c.silence_message_id}", created_at=now, updated_at=now,
        ).on_conflict_do_nothing().returning(Reminder.id)).first()
        if row is not None:
            planned += 1
            log.info("follow-up %s planned for client %s after the silence since message %s",
                     row[0], c.client_id, c.silence_message_id)
    return planned


def run_planner(db: Database, now: datetime, settings: Settings,
                kb: Optional[KnowledgeBase]) -> int:
    """The leader's job: plan the due follow-ups in one transaction."""
    with db.session() as s:
        return plan_followups(s, now, ReengagePolicy.of(settings, kb))


def still_due(s: Session, r: Reminder, client: Client, dialog: Dialog, now: datetime,
              policy: ReengagePolicy) -> Optional[str]:
    """Re-check of a planned follow-up just before writing: None, or why it is dropped."""
    if policy.after_hours is None:
        return "follow-ups are switched off (REENGAGE_AFTER_HOURS=off)"
    if dialog.last_inbound_at is None or now >= policy.window_end(dialog.last_inbound_at):
        return "outside VK's reply window: not attempted"
    wrote = s.execute(select(Message.id).where(
        Message.dialog_id == dialog.id, Message.direction == "in",
        Message.id > (r.silence_message_id or 0)).limit(1)).first()
    if wrote is not None:
        return "client wrote: the silence is over"
    if client.funnel_stage not in policy.stages:
        return f"stage is now {client.funnel_stage}"
    if client.asked_not_to_write_at is not None:
        return "client asked not to write"
    if dialog.needs_human:
        return "an escalation is open"
    bought = s.execute(select(Purchase.id).where(
        Purchase.client_id == client.id, Purchase.paid_at >= r.agreed_at).limit(1)).first()
    return "client bought since" if bought is not None else None


def window_left(policy: ReengagePolicy, dialog: Dialog, moment: datetime) -> bool:
    """True when `moment` still lies inside the window for a follow-up."""
    return dialog.last_inbound_at is not None and moment < policy.window_end(dialog.last_inbound_at)


__all__ = ["KIND", "Candidate", "ReengagePolicy", "due_candidates", "plan_followups", "run_planner",
           "reason_text", "still_due", "window_left"]
