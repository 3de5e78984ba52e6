"""Durable claims on dialogs whose reply is due (FOR UPDATE SKIP LOCKED).

A claim is a turn row plus `dialogs.claimed_until`, a short lease kept alive by a heartbeat.
If the process dies mid-turn the lease runs out within seconds and the next worker takes the
*same* turn again (same id → same VK random_id, so VK drops a repeated send); a process that
stops gracefully releases its unfinished turns at once (`release`).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from app.models import Dialog, Message, Reminder, ReminderStatus, Turn, TurnKind, TurnStatus
from app.platform.clock import Clock
from app.platform.db import Database
from app.runtime import InFlight

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claim:
    turn_id: int
    dialog_id: int
    attempts: int
    kind: str = TurnKind.REPLY


def _due_dialog(s: Session, now: datetime, dialog_id: Optional[int] = None) -> Optional[Dialog]:
    query = select(Dialog).where(
        Dialog.reply_due_at <= now,
        or_(Dialog.claimed_until.is_(None), Dialog.claimed_until < now))
    if dialog_id is not None:  # the eval lab plays each dialog in its own thread
        query = query.where(Dialog.id == dialog_id)
    return s.execute(query.order_by(Dialog.reply_due_at).limit(1)
                     .with_for_update(skip_locked=True)).scalar_one_or_none()


def _latest_inbound_id(s: Session, dialog_id: int) -> int:
    return s.execute(select(func.coalesce(func.max(Message.id), 0)).where(
        Message.dialog_id == dialog_id, Message.direction == "in")).scalar_one()


def claim_next(s: Session, now: datetime, claim_timeout_s: float,
               max_attempts: int, dialog_id: Optional[int] = None) -> Optional[Claim]:
    """Claim one due dialog (only `dialog_id`, when given) in the caller's transaction
    (commit to make it durable)."""
    dialog = _due_dialog(s, now, dialog_id)
    if dialog is None:
        return None
    turn = s.get(Turn, dialog.claimed_turn_id) if dialog.claimed_turn_id else None
    if turn is not None and turn.status == TurnStatus.RUNNING:
        turn.attempts += 1
        if turn.attempts > max_attempts:
            _give_up(s, dialog, turn, now)
            return None
        log.warning("turn %s taken again (attempt %s) after an expired claim", turn.id,
                    turn.attempts)
    else:
        upto = _latest_inbound_id(s, dialog.id)
        if upto <= dialog.answered_upto_id:
            dialog.reply_due_at = None
            dialog.claimed_turn_id = None
            return None
        turn = Turn(dialog_id=dialog.id, kind=TurnKind.REPLY, status=TurnStatus.RUNNING,
                    upto_message_id=upto,
                    attempts=1, started_at=now, flags=[], usage={}, timings={})
        s.add(turn)
        s.flush()
    dialog.claimed_turn_id = turn.id
    dialog.claimed_until = now + timedelta(seconds=claim_timeout_s)
    return Claim(turn.id, dialog.id, turn.attempts, turn.kind)


def _delivered(s: Session, turn_id: int) -> bool:
    """All outbound parts of the turn have a VK message id: the client has the reply."""
    ids = s.execute(select(Message.vk_message_id).where(Message.turn_id == turn_id)).scalars().all()
    return bool(ids) and all(i is not None for i in ids)


def _give_up(s: Session, dialog: Dialog, turn: Turn, now: datetime) -> None:
    """Too many attempts: stop retrying, hand the dialog to a person (unless it was delivered)."""
    if _delivered(s, turn.id):
        turn.finish(TurnStatus.DONE, now)
        dialog.answered_upto_id = max(dialog.answered_upto_id, turn.upto_message_id)
        _release(s, dialog, now)
        log.warning("turn %s was delivered before its process died: closed as done", turn.id)
        return
    turn.give_up(now, "gave up after repeated failures")
    dialog.answered_upto_id = max(dialog.answered_upto_id, turn.upto_message_id)
    dialog.needs_human = True
    _release(s, dialog, now)
    log.error("turn %s failed %s times: dialog %s needs a human", turn.id, turn.attempts - 1,
              dialog.id)


def _release(s: Session, dialog: Dialog, now: datetime) -> None:
    dialog.claimed_until = None
    dialog.claimed_turn_id = None
    if not Message.client_wrote_since(s, dialog.id, dialog.answered_upto_id):
        dialog.reply_due_at = None


def finish(s: Session, claim: Claim, now: datetime, status: str = TurnStatus.DONE,
           timings: Optional[dict[str, float]] = None) -> None:
    """Close a turn and release its dialog; newer messages keep the dialog due."""
    dialog = s.execute(select(Dialog).where(Dialog.id == claim.dialog_id)
                       .with_for_update()).scalar_one()
    turn = s.get(Turn, claim.turn_id)
    if turn is not None:
        turn.finish(status, now)
        if timings:
            turn.timings = timings
        dialog.answered_upto_id = max(dialog.answered_upto_id, turn.upto_message_id)
    if dialog.claimed_turn_id == claim.turn_id:
        _release(s, dialog, now)


class Heartbeat:
    """Keeps a running turn's claims fresh (dialog and, for proactive turns, the reminder), so a
    slow model call is not mistaken for a dead process; the lease is short (a dead process
    loses its turns within seconds) and beaten several times per lease. Registered with the
    process' `InFlight` so a stopping process can release the turn."""

    def __init__(self, claims: Claims, inflight: InFlight, turn_id: int, dialog_id: int) -> None:
        self.claims, self.inflight = claims, inflight
        self.turn_id, self.dialog_id = turn_id, dialog_id
        self.interval = max(0.2, claims.lease_s / 5)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name=f"claim-heartbeat-{turn_id}")

    def __enter__(self) -> "Heartbeat":
        self.inflight.add(self)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._thread.join(5)
        self.inflight.remove(self.turn_id)

    def stop(self) -> None:
        self._stop.set()

    def beat(self) -> None:
        self.claims.beat(self.turn_id, self.dialog_id)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except Exception as exc:  # noqa: BLE001 - a missed beat only risks a retake
                log.warning("claim heartbeat of turn %s: %s", self.turn_id, exc)


def release(s: Session, turn_ids: list[int], now: datetime) -> None:
    """Hand running turns to the next process now (shutdown): their claims expire at once and
    the same turn is taken again (same random_id; a stored reply is delivered as stored). The
    release does not count as a failed attempt."""
    if not turn_ids:
        return
    s.execute(update(Dialog).where(Dialog.claimed_turn_id.in_(turn_ids))
              .values(claimed_until=now))
    s.execute(update(Reminder).where(Reminder.fired_turn_id.in_(turn_ids),
                                     Reminder.status == ReminderStatus.SENDING)
              .values(claimed_until=now))
    s.execute(update(Turn).where(Turn.id.in_(turn_ids), Turn.status == TurnStatus.RUNNING,
                                 Turn.attempts > 0)
              .values(attempts=Turn.attempts - 1))


def postpone(s: Session, claim: Claim, now: datetime, seconds: float, error: str) -> None:
    """A transient failure (VK flood, network): keep the turn, retry it a bit later."""
    dialog = s.get(Dialog, claim.dialog_id)
    turn = s.get(Turn, claim.turn_id)
    if turn is not None:
        turn.note_error(error)
    if dialog is not None and dialog.claimed_turn_id == claim.turn_id:
        dialog.claimed_until = now + timedelta(seconds=seconds)


class Claims:
    """The claims of this process' turns, on one database and clock: take the next due dialog,
    keep a claim alive, finish, postpone or release it."""

    def __init__(self, db: Database, clock: Clock, lease_s: float, max_attempts: int) -> None:
        self.db, self.clock = db, clock
        self.lease_s, self.max_attempts = lease_s, max_attempts

    def next(self, dialog_id: Optional[int] = None) -> Optional[Claim]:
        """Claim one due dialog (only `dialog_id`, when given), committed."""
        with self.db.session() as s:
            return claim_next(s, self.clock.now(), self.lease_s, self.max_attempts, dialog_id)

    def finish(self, claim: Claim, status: str = TurnStatus.DONE,
               timings: Optional[dict[str, float]] = None) -> None:
        with self.db.session() as s:
            finish(s, claim, self.clock.now(), status, timings)

    def postpone(self, claim: Claim, seconds: float, error: str) -> None:
        with self.db.session() as s:
            postpone(s, claim, self.clock.now(), seconds, error)

    def release(self, turn_ids: list[int]) -> None:
        with self.db.session() as s:
            release(s, turn_ids, self.clock.now())

    def beat(self, turn_id: int, dialog_id: int) -> None:
        """Push the claim's lease (dialog, and the reminder of a proactive turn) forward."""
        until = self.clock.now() + timedelta(seconds=self.lease_s)
        with self.db.session() as s:
            s.execute(update(Dialog).where(Dialog.id == dialog_id,
                                           Dialog.claimed_turn_id == turn_id)
                      .values(claimed_until=until))
            s.execute(update(Reminder).where(Reminder.fired_turn_id == turn_id,
                                             Reminder.status == ReminderStatus.SENDING)
                      .values(claimed_until=until))

    def heartbeat(self, inflight: InFlight, turn_id: int, dialog_id: int) -> Heartbeat:
        return Heartbeat(self, inflight, turn_id, dialog_id)
