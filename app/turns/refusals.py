"""A reminder VK refused to deliver (reply window, intent): mark it, tell a manager.

The next reply turn sees it (`context.missed_agreements`) and owns up to the missed agreement."""
from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import TYPE_CHECKING, Optional

from sqlalchemy.orm import Session

from app.models import Dialog, Reminder, Turn, TurnStatus
from app.turns.claims import Claim
from app.turns.context import DialogState
from app.vk.errors import VkRefused

if TYPE_CHECKING:
    from app.turns.runner import TurnRunner

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


def alert(tr: TurnRunner, reminder_id: int) -> None:
    tr.alerts.refused_reminder(reminder_id)


def refused_turn(tr: TurnRunner, claim: Claim, exc: VkRefused) -> str:
    """VK refused under its rules (950/943/944): not retried; the turn records why (a proactive
    turn's reminder is then marked by `settle`; a refused reply calls a person)."""
    log.warning("turn %s: VK refused the send (%s, code %s)", claim.turn_id, exc, exc.code)
    with tr.db.session() as s:
        turn = s.get(Turn, claim.turn_id)
        assert turn is not None, f"turn {claim.turn_id}: a claimed turn exists"
        turn.error = f"VK refused ({exc.code}): {exc}"[:2000]
        turn.add_flag(f"vk_refused:{exc.code}")
        dialog = s.get(Dialog, claim.dialog_id)
        assert dialog is not None, f"turn {claim.turn_id}: its dialog exists (foreign key)"
        if claim.kind == "reply":
            dialog.needs_human = True
        peer_id, client_id = dialog.peer_id, dialog.client_id
    if claim.kind == "reply":
        state = DialogState(claim.dialog_id, client_id, peer_id, False, None, False)
        tr.alerts.notify(state, f"ВКонтакте не пропустил ответ клиенту ({exc.code}: {exc})",
                        claim.turn_id)
    return TurnStatus.UNDELIVERABLE
