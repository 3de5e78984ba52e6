"""When a proactive message may go out: quiet hours in the client's zone, the weekly cap."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Optional
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Dialog, Turn, TurnStatus

if TYPE_CHECKING:
    from app.knowledge.base import KnowledgeBase

PROACTIVE_KINDS = ("reminder", "access_extension")


@dataclass(frozen=True)
class QuietHours:
    start: time  # quiet from (e.g. 21:00)
    end: time  # until (e.g. 09:00)

    @classmethod
    def parse(cls, value: Optional[str], kb: Optional[KnowledgeBase]) -> Optional["QuietHours"]:
        """QUIET_HOURS ("21:00-09:00" | "off") or, unset, the complement of the KB's hours."""
        if value == "off":
            return None
        if value:
            a, b = value.split("-")
            return cls(_hhmm(a), _hhmm(b))
        hours = kb.school.working_hours if kb is not None else None
        if hours is None:
            return cls(time(21), time(9))
        return cls(_hhmm(hours.end), _hhmm(hours.start))

    def is_quiet(self, local: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_allowed(self, moment: datetime, tz: str) -> datetime:
        """`moment` itself if allowed, else the first allowed minute after the quiet window."""
        local = moment.astimezone(ZoneInfo(tz))
        if not self.is_quiet(local.time().replace(second=0, microsecond=0)):
            return moment
        day = local.date()
        if self.start > self.end and local.time() >= self.start:
            day += timedelta(days=1)
        return datetime.combine(day, self.end, tzinfo=ZoneInfo(tz))


def _hhmm(value: str) -> time:
    h, m = value.strip().split(":")
    return time(int(h), int(m))


def proactive_sent_since(s: Session, client_id: int, since: datetime) -> list[datetime]:
    rows = s.execute(select(Turn.finished_at).join(Dialog, Dialog.id == Turn.dialog_id).where(
        Dialog.client_id == client_id, Turn.kind.in_(PROACTIVE_KINDS), Turn.status == TurnStatus.DONE,
        Turn.finished_at >= since).order_by(Turn.finished_at)).scalars().all()
    return [r for r in rows if r is not None]


def weekly_cap_free_at(s: Session, client_id: int, now: datetime, cap: int) -> Optional[datetime]:
    """None if another proactive message fits in the last 7 days, else when it will fit."""
    sent = proactive_sent_since(s, client_id, now - timedelta(days=7))
    if len(sent) < cap:
        return None
    if cap == 0:
        return now + timedelta(days=3650)
    return sent[len(sent) - cap] + timedelta(days=7, minutes=1)

