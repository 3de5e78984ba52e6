"""A reminder VK refused to deliver (reply window, intent): mark it, tell a manager.

The next reply turn sees it (`context.missed_agreements`) and owns up to the missed agreement."""
from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import TYPE_CHECKING, Optional

from sqlalchemy.orm import Session

from app.models import Reminder, Turn

if TYPE_CHECKING:
    from app.services import Services

log = logging.getLogger(__name__)
_FLAG = re.compile(r"^vk_refused:(\d+)$")


def refusal_code(turn: Optional[Turn]) -> Optional[int]:
    for flag in (turn.flags or []) if turn is not None else []:
        match = _FLAG.match(str(flag))
        if match:
            return int(match.group(1))
    return None


def settle(s: Session, r: Reminder, now: datetime) -> Optional[int]:
    """Mark the reminder refused when its turn was refused by VK; returns the code."""
    turn = s.get(Turn, r.fired_turn_id) if r.fired_turn_id else None
    code = refusal_code(turn)
    if code is None:
        return None
    reason = (turn.error or f"VK refused ({code})") if turn is not None else f"VK refused ({code})"
    r.refuse(code, reason[:1000], now)
    log.warning("reminder %s refused by VK (%s): %s", r.id, code, reason)
    return code


def alert(svc: Services, reminder_id: int) -> None:
    from app.crm.alerts import notify_refused_reminder

    notify_refused_reminder(svc, reminder_id)
