"""Creating and cancelling reminders from the analysis' follow-up agreement."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Optional, cast
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from app.models import Client, Reminder, ReminderStatus
from app.reminders.resolver import resolve

if TYPE_CHECKING:
    from app.brain.analysis import FollowUp
    from app.brain.contract import TurnContext
    from app.platform.config import Settings

log = logging.getLogger(__name__)
DEFAULT_DELAY_DAYS = 3
DEFAULT_HOUR = 12


@dataclass(frozen=True)
class FollowUpOutcome:
    due_at: Optional[datetime] = None
    is_default: bool = False
    cancelled: bool = False


def default_moment(now: datetime, tz: str) -> datetime:
    """A vague "write later": in three days at noon, client's time."""
    local = now.astimezone(ZoneInfo(tz))
    day = local.date() + timedelta(days=DEFAULT_DELAY_DAYS)
    return datetime.combine(day, time(DEFAULT_HOUR), tzinfo=ZoneInfo(tz))


def cancel_pending(s: Session, client_id: int, reason: str, kind: Optional[str] = None) -> int:
    q = update(Reminder).where(Reminder.client_id == client_id,
                               Reminder.status == ReminderStatus.PENDING)
    if kind:
        q = q.where(Reminder.kind == kind)
    done = s.execute(q.values(status=ReminderStatus.CANCELLED, status_reason=reason))
    return cast("CursorResult[Any]", done).rowcount or 0  # an UPDATE's result has a rowcount


def _existing(s: Session, turn_id: int) -> Optional[Reminder]:
    return s.execute(select(Reminder).where(Reminder.dedupe_key == f"turn:{turn_id}")).scalar_one_or_none()


def apply_follow_up(s: Session, client: Client, ctx: TurnContext, follow_up: FollowUp, now: datetime,
                    settings: Settings, product_id: Optional[str] = None) -> FollowUpOutcome:
    if follow_up is None:
        return FollowUpOutcome()
    if follow_up.cancel_all:
        n = cancel_pending(s, client.id, "client asked not to write")
        client.asked_not_to_write_at = client.asked_not_to_write_at or now  # no follow-ups
        log.info("client %s asked not to write: %d reminders cancelled", client.vk_id, n)
        return FollowUpOutcome(cancelled=True)
    if not follow_up.agreed:
        return FollowUpOutcome()
    client.asked_not_to_write_at = None  # agreeing to be written to lifts «не пишите»
    existing = _existing(s, ctx.turn_id)
    if existing is not None:
        return FollowUpOutcome(existing.due_at, existing.is_default)
    said_at = ctx.new_messages[-1].created_at if ctx.new_messages else now
    text = (follow_up.text or ctx.new_text or "").strip()
    due = resolve(text, said_at, client.timezone) if text else None
    is_default = due is None
    if due is None:
        due = default_moment(said_at, client.timezone)
    cancel_pending(s, client.id, f"replaced by the agreement of turn {ctx.turn_id}", "followup")
    s.add(Reminder(client_id=client.id, kind="followup", due_at=due, agreed_at=said_at,
                   status=ReminderStatus.PENDING, is_default=is_default, source_text=text[:1000],
                   context=(follow_up.note or text)[:2000], product_id=product_id,
                   source_turn_id=ctx.turn_id, dedupe_key=f"turn:{ctx.turn_id}"))
    log.info("reminder for client %s at %s (default=%s)", client.vk_id, due.isoformat(),
             is_default)
    return FollowUpOutcome(due, is_default)
