"""A turn's record: its analysis and decisions as JSON, and the outbound rows stored before the
send (keyed by turn and part, with a random_id derived from the turn, so a retaken turn
delivers exactly what was stored)."""
from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Optional

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.brain.contract import BrainResult
from app.models import Dialog, Message, Turn
from app.platform.textsafe import clean_json, clean_text
from app.turns import claims
from app.turns.context import DialogState, roll_summary
from app.vk.api import derive_part_random_id, derive_random_id, split_text

if TYPE_CHECKING:
    from app.turns.runner import TurnRunner


def turn_random_id(turn_id: int) -> int:
    return derive_random_id(f"turn:{turn_id}")


def store_result(tr: TurnRunner, claim: claims.Claim, result: BrainResult,
                 state: DialogState, keyboard: str | None = None) -> list[str]:
    """The turn's analysis and reply, and (when it may be sent) the outbound rows."""
    result.reply_text = clean_text(result.reply_text or "")
    parts = split_text(result.reply_text) if state.may_send else []
    with tr.db.session() as s:
        turn = s.get(Turn, claim.turn_id)
        assert turn is not None, f"turn {claim.turn_id}: a claimed turn exists"
        turn.analysis = _json_object(clean_json(jsonable(result.analysis)))
        turn.decisions = _json_object(clean_json(jsonable(result.decisions)))
        turn.reply_text = result.reply_text
        turn.flags = list(result.flags) + ([f"silent:{state.silent_reason}"]
                                           if state.silent_reason else [])
        turn.usage = result.usage
        turn.prompt_version = result.prompt_version
        turn.brain = "+".join(sorted({u.get("model", "?") for u in result.usage.values()
                                      if isinstance(u, dict)})) or None
        dialog = s.get(Dialog, claim.dialog_id)
        assert dialog is not None, f"turn {claim.turn_id}: its dialog exists (foreign key)"
        roll_summary(s, dialog, tr.cfg.history_window)
        store_outbound(s, claim.turn_id, state, parts, tr.clock.now(), "bot", keyboard)
    return parts


def store_outbound(s: Session, turn_id: int, state: DialogState, parts: list[str], now: datetime,
                   source: str, keyboard: Optional[str] = None) -> None:
    """Outbound rows go in before the send, so VK's `message_reply` echoes are recognised.
    The keyboard rides on the last part."""
    base = turn_random_id(turn_id)
    for i, part in enumerate(parts):
        s.execute(insert(Message).values(
            dialog_id=state.dialog_id, direction="out", source=source, text=part,
            random_id=derive_part_random_id(base, i), turn_id=turn_id, part=i,
            attachments=[], created_at=now, keyboard=keyboard if i == len(parts) - 1 else None,
        ).on_conflict_do_nothing(constraint="uq_messages_turn_part"))


def _json_object(value: object) -> Optional[dict[str, object]]:
    """The analysis (a pydantic model) and the decisions (a dataclass) dump as JSON objects."""
    assert value is None or isinstance(value, dict), f"a JSON object, not {type(value).__name__}"
    return value


def jsonable(value: object) -> object:
    """A pydantic model, a dataclass or plain data as JSON data; sets become sorted lists,
    anything else unknown (datetimes) its str()."""
    if value is None:
        return None
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    return json.loads(json.dumps(value, default=_fallback))


def _fallback(value: object) -> object:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=lambda v: (str(type(v)), v))
    return str(value)
