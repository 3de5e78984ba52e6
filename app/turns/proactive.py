"""Proactive turns: firing due reminders. Claim in a transaction, re-check the situation,
write through the same pipeline (brain + guardrails + channel), or skip / re-plan with a reason.

The reminders package never imports this: the leader is handed `TurnRunner.fire_due` by the
composition."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Optional

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from app.crm.cards import paid_items
from app.crm.purchases.access_math import compute_access
from app.knowledge.base import KnowledgeBase
from app.models import Client, Dialog, Message, Purchase, Reminder, ReminderStatus, Turn, TurnKind, TurnStatus
from app.platform.config import Settings
from app.reminders import reengage
from app.reminders.policy import QuietHours, weekly_cap_free_at
from app.turns import claims, refusals, subscriptions
from app.turns.pipeline import RELEASED, process_claim
from app.turns.sending import send_paths
from app.vk.channel import OutboundChannel

if TYPE_CHECKING:
    from app.turns.runner import TurnRunner

log = logging.getLogger(__name__)
RETRY_S = 60


@dataclass(frozen=True)
class Verdict:
    action: str  # send | skip | replan | refuse (VK would refuse every path: not attempted)
    reason: str = ""
    due_at: Optional[datetime] = None


def claim_due(s: Session, now: datetime, claim_s: float) -> Optional[Reminder]:
    reminder = s.execute(select(Reminder).where(or_(
        and_(Reminder.status == ReminderStatus.PENDING, Reminder.due_at <= now),
        and_(Reminder.status == ReminderStatus.SENDING, Reminder.claimed_until < now)))
        .order_by(Reminder.due_at).limit(1).with_for_update(skip_locked=True)).scalar_one_or_none()
    if reminder is not None:
        reminder.claim(now, claim_s)
    return reminder


def _wrote_since(s: Session, r: Reminder, dialog: Dialog) -> bool:
    upto: Optional[int] = None
    if r.source_turn_id:
        source = s.get(Turn, r.source_turn_id)
        assert source is not None, f"reminder {r.id}: its source turn exists (foreign key)"
        upto = source.upto_message_id
    if upto:
        return Message.client_wrote_since(s, dialog.id, upto)
    return s.execute(select(Message.id).where(
        Message.dialog_id == dialog.id, Message.direction == "in",
        Message.created_at > r.agreed_at).limit(1)).first() is not None


def _bought_since(s: Session, r: Reminder, client: Client) -> bool:
    if not r.product_id:
        return False
    return s.execute(select(Purchase.id).where(
        Purchase.client_id == client.id, Purchase.product_id == r.product_id,
        Purchase.paid_at >= r.agreed_at).limit(1)).first() is not None


def _still_relevant(s: Session, r: Reminder, client: Client, dialog: Dialog, kb: Optional[KnowledgeBase],
                    now: datetime, policy: reengage.ReengagePolicy) -> Optional[str]:
    """The reason the message no longer makes sense, or None."""
    if not client.may_write_first:
        return "client does not allow messages (message_deny, or VK refused: 901/902)"
    if r.kind == "followup":
        if _wrote_since(s, r, dialog):
            return "client wrote since the agreement: the dialog moved on"
        if _bought_since(s, r, client):
            return f"client bought {r.product_id} since the agreement"
    if r.kind == reengage.KIND:
        return reengage.still_due(s, r, client, dialog, now, policy)
    if r.kind == "access_extension" and r.product_id:
        access = compute_access(paid_items(s, client.id), kb).get(r.product_id)
        if access is None or access.until is None or access.until > now + timedelta(days=60):
            return "access already extended or lifetime"
    return None


def recheck(tr: TurnRunner, s: Session, r: Reminder, now: datetime, kb: Optional[KnowledgeBase]) -> Verdict:
    client = s.get(Client, r.client_id)
    assert client is not None, f"reminder {r.id}: its client exists (foreign key)"
    dialog = s.execute(select(Dialog).where(Dialog.client_id == client.id)).scalar_one_or_none()
    if dialog is None:
        return Verdict("skip", "no dialog with this client")
    policy = reengage.ReengagePolicy.of(tr.cfg, kb)
    reason = _still_relevant(s, r, client, dialog, kb, now, policy)
    if reason:
        return Verdict("skip", reason)
    quiet = QuietHours.parse(tr.cfg.quiet_hours, kb)
    tz = client.timezone
    if dialog.human_until is not None and dialog.human_until > now:
        return Verdict("replan", "a person is handling the dialog", _allowed(quiet, dialog.human_until, tz))
    if tr.bot_paused(s) or client.bot_paused:
        return Verdict("replan", "bot paused", _allowed(quiet, now + timedelta(hours=1), tz))
    if dialog.reply_due_at is not None or (dialog.claimed_until and dialog.claimed_until > now):
        return Verdict("replan", "a reply to the client is in progress",
                       _allowed(quiet, now + timedelta(minutes=5), tz))
    if now - r.due_at > timedelta(hours=tr.cfg.reminder_grace_hours):
        nxt = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        return Verdict("replan", "fell due while the app was down; re-planned", _allowed(quiet, nxt, tz))
    if quiet is not None and quiet.next_allowed(now, tz) != now:
        return Verdict("replan", "quiet hours", quiet.next_allowed(now, tz))
    free_at = weekly_cap_free_at(s, client.id, now, tr.cfg.max_proactive_per_week)
    if free_at is not None:
        return Verdict("replan", "weekly cap of proactive messages", _allowed(quiet, free_at, tz))
    return Verdict("send")


def _allowed(quiet: Optional[QuietHours], moment: datetime, tz: str) -> datetime:
    return quiet.next_allowed(moment, tz) if quiet is not None else moment


def fire_one(tr: TurnRunner) -> bool:
    """Claim and handle one due reminder. False when none is due."""
    now = tr.clock.now()
    kb = tr.kb.current
    with tr.db.session() as s:
        r = claim_due(s, now, tr.cfg.claim_timeout_s)
        if r is None:
            return False
        if _already_finished(s, r, now, tr.cfg.max_turn_attempts):
            return True
        verdict = _inside_window(s, r, recheck(tr, s, r, now, kb),
                                 reengage.ReengagePolicy.of(tr.cfg, kb), now)
        if verdict.action == "send":
            verdict = _path_verdict(tr.channel, tr.cfg, s, r, now) or verdict
        dialog = _claim_dialog(s, r, now) if verdict.action == "send" else None
        if verdict.action == "send" and dialog is None:
            verdict = Verdict("replan", "a reply to the client is in progress",
                              now + timedelta(minutes=5))
        if dialog is None:
            _settle(s, r, verdict, now)
            handed = verdict.action == "refuse"
        else:
            claim = _proactive_turn(s, r, dialog, now, tr.cfg.claim_timeout_s)
    if dialog is None:
        if handed:
            refusals.alert(tr, r.id)  # handed to staff, as when VK refuses
        return True
    status = process_claim(tr, claim)
    if status == RELEASED:
        return True  # the next process takes the reminder's turn again
    with tr.db.session() as s:
        reminder = s.get(Reminder, r.id)
        assert reminder is not None, f"reminder {r.id}: a claimed reminder is not deleted"
        refused = refusals.settle(s, reminder, tr.clock.now())
        if refused is None:
            _record_outcome(s, reminder, status, tr.clock.now())
    if refused is not None:
        refusals.alert(tr, r.id)
    return True


def _settle(s: Session, r: Reminder, verdict: Verdict, now: datetime) -> None:
    turn = s.get(Turn, r.fired_turn_id) if r.fired_turn_id else None
    if turn is not None and turn.status == TurnStatus.RUNNING and verdict.action == "skip":
        turn.skip(now, f"reminder skipped: {verdict.reason}")
    if verdict.action == "skip":
        r.skip(verdict.reason)
    elif verdict.action == "refuse":
        r.refuse(None, verdict.reason, now)
    else:
        r.replan(verdict.due_at or now, verdict.reason)
    log.info("reminder %s %s: %s", r.id, verdict.action, verdict.reason)


def _claim_dialog(s: Session, r: Reminder, now: datetime) -> Optional[Dialog]:
    """Lock the dialog and take it like a reply turn does (one turn per dialog at a time):
    None when a reply is due or another turn holds it."""
    dialog = s.execute(select(Dialog).where(Dialog.client_id == r.client_id)
                       .with_for_update()).scalar_one()
    held = (dialog.claimed_until is not None and dialog.claimed_until > now
            and dialog.claimed_turn_id not in (None, r.fired_turn_id))
    return None if held or dialog.reply_due_at is not None else dialog


def _proactive_turn(s: Session, r: Reminder, dialog: Dialog, now: datetime,
                    claim_s: float) -> claims.Claim:
    kind = turn_kind(r)
    turn = s.get(Turn, r.fired_turn_id) if r.fired_turn_id else None
    if turn is None:
        turn = Turn(dialog_id=dialog.id, kind=kind, status=TurnStatus.RUNNING, reminder_id=r.id,
                    upto_message_id=dialog.answered_upto_id, attempts=1, started_at=now,
                    flags=[], usage={}, timings={})
        s.add(turn)
        s.flush()
        r.fired_turn_id = turn.id
    else:
        turn.attempts += 1
    dialog.claimed_turn_id, dialog.claimed_until = turn.id, now + timedelta(seconds=claim_s)
    return claims.Claim(turn.id, dialog.id, turn.attempts, kind)


def turn_kind(r: Reminder) -> TurnKind:
    return {"access_extension": TurnKind.ACCESS_EXTENSION,
            reengage.KIND: TurnKind.FOLLOWUP}.get(r.kind, TurnKind.REMINDER)


def _inside_window(s: Session, r: Reminder, verdict: Verdict, policy: reengage.ReengagePolicy,
                   now: datetime) -> Verdict:
    """A follow-up re-planned past VK's reply window is dropped, not attempted later."""
    if r.kind != reengage.KIND or verdict.action != "replan":
        return verdict
    dialog = s.execute(select(Dialog).where(Dialog.client_id == r.client_id)).scalar_one()
    if reengage.window_left(policy, dialog, verdict.due_at or now):
        return verdict
    return Verdict("skip", f"{verdict.reason}; later would be outside VK's reply window")


def _path_verdict(channel: OutboundChannel, settings: Settings, s: Session, r: Reminder,
                  now: datetime) -> Optional[Verdict]:
    """None when VK would take the message one way or another; else why nothing is attempted.
    A reminder's subscription intent is used only when the client subscribed (read from VK
    just before)."""
    kind = turn_kind(r)
    subscriptions.refresh_for(channel, s, settings, kind, now)
    subscribed = subscriptions.is_subscribed(s, settings, r.client_id, kind)
    last = s.execute(select(Dialog.last_inbound_at).where(
        Dialog.client_id == r.client_id)).scalar_one_or_none()
    if send_paths(settings, kind, last, now, subscribed):
        return None
    if kind == TurnKind.FOLLOWUP:
        return Verdict("skip", "outside VK's reply window: not attempted")
    return Verdict("refuse", "окно ответа VK закрыто, а подписки клиента на это сообщение нет: "
                             "не отправлялось, напишите сами")


def _already_finished(s: Session, r: Reminder, now: datetime, max_attempts: int) -> bool:
    """The reminder's turn ended (or ran out of attempts) but the outcome was not recorded:
    record it instead of running the turn again."""
    turn = s.get(Turn, r.fired_turn_id) if r.fired_turn_id else None
    if turn is None:
        return False
    if turn.status == TurnStatus.RUNNING and turn.attempts < max_attempts:
        return False
    if turn.status == TurnStatus.RUNNING:
        turn.finish(TurnStatus.FAILED, now)
    if turn.status == TurnStatus.DONE:
        _record_outcome(s, r, TurnStatus.DONE, now)
        return True
    if refusals.settle(s, r, now) is not None:
        return True  # refused before the process died (staff alerts are idempotent per send)
    why = f"its turn ended as {turn.status} after {turn.attempts} attempt(s)"
    r.fail(why) if turn.status == TurnStatus.FAILED else r.skip(why)
    return True


def _record_outcome(s: Session, r: Reminder, status: str, now: datetime) -> None:
    if status == TurnStatus.DONE:
        r.mark_sent(now)
    elif status in (TurnStatus.SILENT, TurnStatus.UNDELIVERABLE):
        r.skip(f"not delivered: {status}")
    else:  # postponed: keep it claimed a little, then it is taken again (same turn, same random_id)
        r.hold(now + timedelta(seconds=RETRY_S))


def fire_due(tr: TurnRunner, limit: int = 100) -> int:
    n = 0
    while n < limit and fire_one(tr):
        n += 1
    return n
