"""Playing scenario dialogs through the real pipeline: POST /vk/callback → inbox → claimed turn
→ brain → channel, one thread per dialog, each dialog on its own virtual clock.

A turn's lines are posted a second apart, then the clock moves past the debounce so they form
one burst, and the dialog's due turn is run in this thread (only this dialog is claimed).
"""
from __future__ import annotations

import itertools
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional

from sqlalchemy import select

from app.eval.sandbox import EVAL_GROUP_ID, EVAL_SECRET, Lab
from app.eval.scenarios import Scenario
from app.models import Dialog, ManagerAlert, Turn

if TYPE_CHECKING:
    from flask.testing import FlaskClient

log = logging.getLogger(__name__)
PEER_BASE = 880_000_000  # VK user ids of the simulated clients: PEER_BASE + dialog number
LINE_GAP_S = 1.0  # messages of one burst are a moment apart
BETWEEN_TURNS_S = 90.0  # the client reads the answer and types the next turn
MAX_TURNS_PER_BURST = 4

_message_ids = itertools.count(1)
_ids_lock = threading.Lock()


@dataclass
class DialogRun:
    scenario: Scenario
    peer_id: int
    transcript: list[dict[str, str]] = field(default_factory=list)
    turns: list[dict[str, Any]] = field(default_factory=list)
    error: Optional[str] = None
    handed_over: bool = False  # the dialog ended marked for staff, with a manager alert

    def assistant_texts(self) -> list[str]:
        return [m["text"] for m in self.transcript if m["role"] == "assistant"]


def _next_id() -> int:
    with _ids_lock:
        return next(_message_ids)


def callback_body(peer_id: int, text: str, date: int) -> dict[str, Any]:
    mid = _next_id()
    return {"type": "message_new", "group_id": EVAL_GROUP_ID, "event_id": f"eval-{mid}",
            "v": "5.199", "secret": EVAL_SECRET,
            "object": {"message": {"id": mid, "date": date, "peer_id": peer_id,
                                   "from_id": peer_id, "text": text, "attachments": [],
                                   "conversation_message_id": mid},
                       "client_info": {"keyboard": True, "inline_keyboard": True,
                                       "button_actions": ["text"]}}}


def _post(lab: Lab, client: FlaskClient, peer_id: int, text: str) -> None:
    body = callback_body(peer_id, text, int(lab.clock.now().timestamp()))
    resp = client.post("/vk/callback", data=json.dumps(body, ensure_ascii=False),
                       content_type="application/json")
    if resp.status_code != 200 or resp.get_data(as_text=True) != "ok":
        raise RuntimeError(f"/vk/callback answered {resp.status_code}: "
                           f"{resp.get_data(as_text=True)[:200]}")


def _dialog_id(lab: Lab, peer_id: int) -> Optional[int]:
    with lab.parts.db.session() as s:
        return s.execute(select(Dialog.id).where(Dialog.peer_id == peer_id)).scalar()


def handed_over(lab: Lab, dialog_id: Optional[int]) -> bool:
    """A person was called: the dialog is marked for staff and a manager alert was recorded."""
    if dialog_id is None:
        return False
    with lab.parts.db.session() as s:
        dialog = s.get(Dialog, dialog_id)
        alert = s.execute(select(ManagerAlert.id).where(
            ManagerAlert.client_id == dialog.client_id).limit(1)).first()
        return bool(dialog.needs_human) and alert is not None


def run_due_turns(lab: Lab, dialog_id: int) -> int:
    """Run this dialog's due turns in this thread; returns how many ran."""
    turns, ran = lab.parts.turns, 0
    for _ in range(MAX_TURNS_PER_BURST):
        claim = turns.claims.next(dialog_id=dialog_id)
        if claim is None:
            break
        turns.process(claim)
        ran += 1
    return ran


def turn_record(turn: Turn, burst: int) -> dict[str, Any]:
    return {"burst": burst, "status": str(turn.status), "analysis": turn.analysis or {},
            "decisions": turn.decisions or {}, "flags": list(turn.flags or []),
            "usage": turn.usage or {}, "prompt_version": turn.prompt_version,
            "brain": turn.brain, "error": turn.error}


def _new_turns(lab: Lab, dialog_id: int, seen: set[int], burst: int) -> list[dict[str, Any]]:
    with lab.parts.db.session() as s:
        rows = s.execute(select(Turn).where(Turn.dialog_id == dialog_id, Turn.id.not_in(seen))
                         .order_by(Turn.id)).scalars().all()
        seen.update(t.id for t in rows)
        return [turn_record(t, burst) for t in rows]


def play_dialog(lab: Lab, scenario: Scenario, peer_id: int) -> DialogRun:
    run = DialogRun(scenario=scenario, peer_id=peer_id)
    lab.clock.begin()
    client, seen = lab.app.test_client(), set()  # type: ignore[var-annotated]
    debounce = lab.settings.debounce_seconds
    try:
        for n, burst in enumerate(scenario.bursts()):
            for i, line in enumerate(burst):
                if i:
                    lab.clock.advance(LINE_GAP_S)
                _post(lab, client, peer_id, line)
                run.transcript.append({"role": "client", "text": line})
            lab.clock.advance(debounce + 1)
            sent_before = len(lab.channel.texts(peer_id))
            dialog_id = _dialog_id(lab, peer_id)
            if dialog_id is not None:
                run_due_turns(lab, dialog_id)
                run.turns += _new_turns(lab, dialog_id, seen, n)
            for text in lab.channel.texts(peer_id)[sent_before:]:
                run.transcript.append({"role": "assistant", "text": text})
            lab.clock.advance(BETWEEN_TURNS_S)
        run.handed_over = handed_over(lab, _dialog_id(lab, peer_id))
    except Exception as exc:  # noqa: BLE001 - one broken dialog is reported, the run goes on
        log.exception("eval dialog %s failed", scenario.id)
        run.error = f"{type(exc).__name__}: {exc}"[:500]
    return run


def play_all(lab: Lab, scenarios: list[Scenario], concurrency: int,
             on_done: Optional[Callable[[DialogRun], None]] = None) -> list[DialogRun]:
    """Every dialog, `concurrency` at a time; results in the scenarios' order."""
    runs: dict[int, DialogRun] = {}
    with ThreadPoolExecutor(max_workers=max(1, concurrency),
                            thread_name_prefix="eval-dialog") as pool:
        futures = {pool.submit(play_dialog, lab, sc, PEER_BASE + i + 1): i
                   for i, sc in enumerate(scenarios)}
        for future in as_completed(futures):
            run = future.result()
            runs[futures[future]] = run
            if on_done is not None:
                on_done(run)
    return [runs[i] for i in range(len(scenarios))]
