"""The pipeline seam: one claimed turn → context → brain → VK send → stored outbound + analysis.

Every step is idempotent: a turn taken again after a crash whose reply was already stored
delivers exactly what was stored (no second model run, no second set of side effects); the
outbound rows are keyed by (turn, part) and the VK random_id is derived from the turn, so the
client never gets the same reply twice.
"""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.brain.contract import BrainResult, TurnContext
from app.brain.engine import run_brain
from app.brain.offline import voice_unheard
from app.models import Client, Dialog, Message, Turn, TurnFlag, TurnKind, TurnStatus
from app.payments import with_payment
from app.turns import claims, refusals, subscriptions
from app.turns.buttons import keyboard_for
from app.turns.context import DialogState, load_turn_context, silent_reason
from app.turns.effects import apply_effects
from app.turns.media import load_media
from app.turns.sending import send_part, send_paths
from app.turns.storing import store_result, turn_random_id
from app.vk.api import derive_part_random_id
from app.vk.channel import OutboundMessage
from app.vk.errors import VkCannotSend, VkError, VkRefused

if TYPE_CHECKING:
    from app.turns.runner import TurnRunner

log = logging.getLogger(__name__)
RETRY_AFTER_S = 30.0  # first retry of a turn that hit a transient error; doubles each time
RETRY_MAX_S = 600.0


def retry_delay(attempt: int) -> float:
    """30 s, 1 min, 2 min, … 10 min: a VK or model outage of half an hour loses no turn."""
    factor: int = 2 ** max(0, attempt - 1)  # an int power of two (typeshed says Any)
    return min(RETRY_MAX_S, RETRY_AFTER_S * factor)


class TurnReleased(Exception):
    """This process is stopping and handed the turn to the next one: stop working on it."""


RELEASED = "released"  # process_claim's answer for a turn handed over at shutdown
POSTPONED = "postponed"  # … for a turn that hit a transient error and is retried later


def _check_released(tr: TurnRunner, turn_id: int) -> None:
    if tr.inflight.is_released(turn_id):
        raise TurnReleased(f"turn {turn_id} was released to the next process")


def process_claim(tr: TurnRunner, claim: claims.Claim) -> str:
    """Run one claimed turn to its end. Returns the final status (a `TurnStatus`), "postponed"
    (retried later) or `RELEASED` (handed to the next process at shutdown)."""
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    try:
        with tr.claims.heartbeat(tr.inflight, claim.turn_id, claim.dialog_id):
            status = _run(tr, claim, t0, timings)
        _check_released(tr, claim.turn_id)
    except TurnReleased:
        log.info("turn %s left to the next process", claim.turn_id)
        return RELEASED
    except VkCannotSend as exc:
        status = _undeliverable(tr, claim, exc)
    except VkRefused as exc:
        status = refusals.refused_turn(tr, claim, exc)
    except VkError as exc:
        _postpone(tr, claim, f"VK: {exc}")
        return POSTPONED
    except Exception as exc:  # noqa: BLE001 - the turn must never be lost: retry it later
        if tr.inflight.is_released(claim.turn_id):
            return RELEASED  # the process is stopping; the next one runs the turn
        log.exception("turn %s failed: %s", claim.turn_id, exc)
        _postpone(tr, claim, f"{type(exc).__name__}: {exc}")
        return POSTPONED
    tr.claims.finish(claim, status, timings)
    return status


def _run(tr: TurnRunner, claim: claims.Claim, t0: float, timings: dict[str, float]) -> str:
    snap = tr.kb.snapshot()
    with tr.db.session() as s:
        turn = s.get(Turn, claim.turn_id)
        assert turn is not None, f"turn {claim.turn_id}: a claimed turn exists"
        ctx, state = load_turn_context(
            s, turn, tr.clock.now(), snap.kb, snap.index, tr.cfg.history_window,
            bot_paused=tr.bot_paused(s))
        stored = _stored_parts(s, claim.turn_id)
    if stored:  # a retaken turn already decided what to say: deliver exactly that, once
        return _deliver_if_allowed(tr, claim.turn_id, state, stored)
    media_flags = load_media(tr, ctx, state) if state.media_refs else []
    marks = {"start": t0, "loaded": time.perf_counter()}
    if state.may_send:
        if state.needs_names:
            _fetch_names(tr, state, ctx)
        tr.channel.set_typing(state.peer_id)
    marks["vk_before"] = time.perf_counter()
    result = run_brain(ctx, tr.primary, tr.offline,
                       lambda analysis: apply_effects(tr, ctx, state, analysis))
    marks["brain"] = time.perf_counter()
    _check_released(tr, claim.turn_id)
    result.flags += media_flags + ([TurnFlag.VOICE_UNHEARD] if voice_unheard(ctx) else [])
    keyboard = None if result.fallback else keyboard_for(ctx, result.analysis, result.decisions,
                                                         state, tr.cfg)
    if not result.fallback:
        result.reply_text = with_payment(result.reply_text, result.decisions.payment, keyboard)
    parts = store_result(tr, claim, result, state, keyboard)  # and the outbound rows
    if result.fallback or (result.handoff and parts):  # the reply promised a person: call one
        _call_a_human(tr, state, claim.turn_id, result.flags, result.handoff)
    marks["stored"] = time.perf_counter()
    status = _deliver_if_allowed(tr, claim.turn_id, state, parts) if parts else TurnStatus.SILENT
    if status == TurnStatus.SILENT:
        log.info("turn %s answered silently: %s", claim.turn_id, state.silent_reason)
    marks["sent"] = time.perf_counter()
    timings.update(_timings(marks, result))
    return status


def _stored_parts(s: Session, turn_id: int) -> list[str]:
    rows = s.execute(select(Message.text).where(Message.turn_id == turn_id)
                     .order_by(Message.part)).scalars().all()
    return list(rows)


def _deliver_if_allowed(tr: TurnRunner, turn_id: int, state: DialogState, parts: list[str]) -> str:
    """Re-check just before sending: a person may have taken over while the model thought."""
    with tr.db.session() as s:
        client = s.get(Client, state.client_id)
        dialog = s.get(Dialog, state.dialog_id)
        turn = s.get(Turn, turn_id)
        assert client is not None and dialog is not None and turn is not None, \
            f"turn {turn_id}: the turn, its dialog and client exist"
        reason = silent_reason(client, dialog, tr.clock.now(), tr.bot_paused(s))
        if reason is None and turn.kind != TurnKind.REPLY and Message.client_wrote_since(
                s, turn.dialog_id, turn.upto_message_id):
            reason = "client_wrote"  # a proactive text must not cross the client's new message
        if reason is None and turn.kind != TurnKind.REPLY \
                and not client.may_write_first:
            reason = "no_consent"  # message_deny, or VK refused an earlier proactive send
        if reason is None and turn.kind != TurnKind.REPLY:
            state.subscribed = subscriptions.is_subscribed(s, tr.cfg, state.client_id,
                                                           turn.kind)
            if not send_paths(tr.cfg, turn.kind, state.last_inbound_at, tr.clock.now(),
                              state.subscribed):
                reason = "outside_reply_window"  # VK would refuse: nothing is attempted
        if reason is not None:  # the stored reply stays for staff, marked as never sent
            s.execute(update(Message).where(Message.turn_id == turn_id,
                                            Message.vk_message_id.is_(None))
                      .values(held_back=True))
            flag = TurnFlag.SILENT.detail(reason)
            if flag not in (turn.flags or []):
                turn.flags = list(turn.flags or []) + [flag]
    if reason is not None:
        state.silent_reason = reason
        return TurnStatus.SILENT
    deliver(tr, turn_id, state, parts)
    return TurnStatus.DONE


def _timings(m: dict[str, float], result: BrainResult) -> dict[str, float]:
    """Where a turn's time went; `overhead_ms` is everything but the model calls."""
    def ms(a: str, b: str) -> float:
        return round((m[b] - m[a]) * 1000, 2)

    model_ms = sum(float(u.get("latency_ms") or 0) for u in result.usage.values()
                   if isinstance(u, dict))
    timings = {"load_ms": ms("start", "loaded"), "vk_before_ms": ms("loaded", "vk_before"),
               "brain_ms": ms("vk_before", "brain"), "model_ms": round(model_ms, 2),
               "store_ms": ms("brain", "stored"), "send_ms": ms("stored", "sent"),
               "total_ms": ms("start", "sent")}
    timings["overhead_ms"] = round(timings["total_ms"] - model_ms, 2)
    return timings


def _call_a_human(tr: TurnRunner, state: DialogState, turn_id: int, flags: list[str],
                  reason: str = "") -> None:
    """The reply promised a person (the safe fallback, or a promise the analysis did not
    escalate): mark the dialog and alert the managers."""
    with tr.db.session() as s:
        dialog = s.get(Dialog, state.dialog_id)
        assert dialog is not None, f"turn {turn_id}: its dialog exists"
        dialog.needs_human = True
    tr.alerts.notify(state, reason or "автоответ не справился: " + ", ".join(flags), turn_id)


def _fetch_names(tr: TurnRunner, state: DialogState, ctx: TurnContext) -> None:
    try:
        names = tr.channel.get_user_name(state.peer_id)
    except VkError as exc:
        log.warning("users.get failed for %s: %s", state.peer_id, exc)
        return
    first, last = names or ("", "")
    with tr.db.session() as s:
        client = s.get(Client, state.client_id)
        assert client is not None, f"dialog {state.dialog_id}: its client exists"
        client.first_name, client.last_name = first or client.first_name, last or client.last_name
        client.names_fetched_at = tr.clock.now()
    ctx.card.first_name = first or ctx.card.first_name
    ctx.card.last_name = last or ctx.card.last_name


def deliver(tr: TurnRunner, turn_id: int, state: DialogState, parts: list[str]) -> list[int]:
    """Send the stored parts not yet delivered (random_id per part: VK drops a repeat), and
    record each part's VK id as soon as it is sent."""
    base = turn_random_id(turn_id)
    ids: list[int] = []
    paths = send_paths(tr.cfg, state.kind, state.last_inbound_at, tr.clock.now(),
                       state.subscribed)
    for i, part in enumerate(parts):
        with tr.db.session() as s:
            row = s.execute(select(Message).where(Message.turn_id == turn_id,
                                                  Message.part == i)).scalar_one_or_none()
            if row is not None and row.vk_message_id is not None:
                ids.append(row.vk_message_id)
                continue
            keyboard = row.keyboard if row is not None else None
        _check_released(tr, turn_id)
        sent = send_part(tr.channel, OutboundMessage(state.peer_id, part,
                                                      derive_part_random_id(base, i), keyboard),
                         paths)
        ids += sent
        with tr.db.session() as s:
            s.execute(update(Message).where(Message.turn_id == turn_id, Message.part == i)
                      .values(vk_message_id=sent[0] if sent else None))
            dialog = s.get(Dialog, state.dialog_id)
            assert dialog is not None, f"turn {turn_id}: its dialog exists"
            dialog.last_outbound_at = tr.clock.now()
    return ids


def _undeliverable(tr: TurnRunner, claim: claims.Claim, exc: VkError) -> str:
    log.warning("turn %s: VK refuses to deliver (%s); client marked not writable",
                claim.turn_id, exc)
    with tr.db.session() as s:
        dialog = s.get(Dialog, claim.dialog_id)
        assert dialog is not None, f"turn {claim.turn_id}: its dialog exists"
        client = s.get(Client, dialog.client_id)
        assert client is not None, f"dialog {dialog.id}: its client exists"
        client.can_write = False
        if claim.kind != TurnKind.REPLY:  # written first and refused: not again until it writes
            client.mark_unreachable(exc.code, tr.clock.now())
        turn = s.get(Turn, claim.turn_id)
        assert turn is not None, f"turn {claim.turn_id}: a claimed turn exists"
        turn.error = f"VK: {exc}"
    return TurnStatus.UNDELIVERABLE


def _postpone(tr: TurnRunner, claim: claims.Claim, error: str) -> None:
    if tr.inflight.is_released(claim.turn_id):
        return  # handed to the next process: its claim must stay expired
    try:
        tr.claims.postpone(claim, retry_delay(claim.attempts), error)
    except Exception:  # noqa: BLE001 - the claim simply expires if even this fails
        log.exception("could not postpone turn %s", claim.turn_id)
