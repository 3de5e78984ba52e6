"""Acting on the analysis, in code: card facts, funnel stage, reminders, escalation, offers.

Runs between the two model calls; returns the `Decisions` the reply stage must respect.
Idempotent per turn (a turn taken again after a crash does not double anything).
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Callable, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.brain.analysis import Analysis
from app.brain.contract import Decisions, HistoryMessage, PaymentOffer, TurnContext
from app.brain.demands import demands_discount
from app.crm import cards, sales
from app.models import Client, Dialog, Message, TurnKind
from app.payments import PaymentLinks
from app.reminders import service as reminders
from app.turns.context import DialogState

if TYPE_CHECKING:
    from app.turns.runner import TurnRunner

log = logging.getLogger(__name__)


def apply_effects(tr: TurnRunner, ctx: TurnContext, state: DialogState,
                  analysis: Analysis) -> Decisions:
    """Every effect runs in its own SAVEPOINT: one that raises (a resolver bug, a card value the
    database refuses, the sales policy) is rolled back, logged and flagged `effect_error:<name>`
    in `decisions.effect_errors`; the others stand and the reply still goes out."""
    decisions = Decisions()
    source = f"turn:{ctx.turn_id}"
    now = tr.clock.now()
    try:
        store_transcript(tr, ctx, analysis.transcript)
    except Exception:  # noqa: BLE001 - a transcript that cannot be stored never fails the turn
        log.exception("turn %s: the voice transcript was not stored", ctx.turn_id)
        decisions.effect_errors.append("transcript")
    with tr.db.session() as s:
        client = s.get(Client, state.client_id)
        assert client is not None, f"turn {ctx.turn_id}: its dialog's client exists (foreign key)"

        def step(name: str, effect: Callable[[], None]) -> None:
            _guarded(s, name, effect, decisions.effect_errors, ctx.turn_id)

        step("card_facts", lambda: _card(s, client, ctx, analysis, source))
        if ctx.kind == "reply":
            step("follow_up", lambda: _follow_up(tr, s, client, ctx, analysis, now, decisions))
        if analysis.offer is not None and analysis.offer.offer_id:
            step("sales_policy", lambda: _offer(s, client, ctx, analysis, now, decisions))
        step("allowed_mentions", lambda: _mentions(s, client, now, decisions))
        if analysis.escalate.needed:
            step("escalation", lambda: _escalate(s, state, decisions))
    if decisions.escalated:
        tr.alerts.notify(state, analysis.escalate.reason, ctx.turn_id)
    decisions.payment = _payment_link(tr.payments, ctx, state, analysis, decisions.effect_errors)
    return decisions


def _payment_link(links: Optional[PaymentLinks], ctx: TurnContext, state: DialogState,
                  analysis: Analysis, errors: list[str]) -> Optional[PaymentOffer]:
    """The client chose a product and wants to pay: a link at the price code decides (outside
    the effects' transaction: the provider is an outside call; an outage gives the product
    page, never a failed turn). `links` is None when no payment provider is configured."""
    product_id = analysis.pay_product_id
    if links is None or not product_id or ctx.kind != TurnKind.REPLY:
        return None
    try:
        return links.link_for(state.client_id, product_id, ctx.kb, ctx.turn_id)
    except Exception:  # noqa: BLE001 - a payment bug never fails the turn
        log.exception("turn %s: payment link for %s failed", ctx.turn_id, product_id)
        errors.append("payment_link")
        return None


def store_transcript(tr: TurnRunner, ctx: TurnContext, transcript: object) -> None:
    """The model heard the voice note: its transcript becomes the message's text (marked
    transcribed) and the reply stage reads it as the client's words."""
    voices = [m for m in ctx.media if m.kind == "voice"]
    if not voices or not isinstance(transcript, str) or not transcript.strip():
        return
    text = transcript.strip()[:4000]
    if len(voices) == 1 and voices[0].message_id:
        with tr.db.session() as s:
            s.execute(update(Message).where(Message.id == voices[0].message_id,
                                            Message.transcribed.is_(False))
                      .values(text=text, transcribed=True))
    ctx.new_messages = ctx.new_messages + [
        HistoryMessage("in", f"[расшифровка голосового сообщения]: {text}", ctx.now)]
    ctx.plain_text = "\n".join(p for p in (ctx.plain_text, text) if p)
    ctx.heard_text = "\n".join(p for p in (ctx.heard_text, text) if p)


def _guarded(s: Session, name: str, effect: Callable[[], None], errors: list[str],
             turn_id: int) -> None:
    try:
        with s.begin_nested():
            effect()
    except Exception as exc:  # noqa: BLE001 - an effect's bug or bad data never fails the turn
        log.exception("turn %s: effect %s failed (%s); the reply still goes out",
                      turn_id, name, type(exc).__name__)
        errors.append(name)


def _card(s: Session, client: Client, ctx: TurnContext, analysis: Analysis, source: str) -> None:
    cards.apply_facts(s, client, analysis.facts, source)
    _apply_timezone(s, client, analysis.facts.timezone, source)
    cards.set_stage(s, client, analysis.funnel_stage, source, owns_products=bool(ctx.card.purchases))
    s.flush()


def _follow_up(tr: TurnRunner, s: Session, client: Client, ctx: TurnContext, analysis: Analysis,
               now: datetime, decisions: Decisions) -> None:
    outcome = reminders.apply_follow_up(s, client, ctx, analysis.follow_up, now,
                                        tr.cfg, _discussed_product(ctx, analysis))
    s.flush()
    decisions.reminder_due_at = outcome.due_at
    decisions.reminder_is_default = outcome.is_default
    decisions.reminders_cancelled = outcome.cancelled


def _offer(s: Session, client: Client, ctx: TurnContext, analysis: Analysis, now: datetime,
           decisions: Decisions) -> None:
    offer = analysis.offer
    assert offer is not None, "called only when the analysis has an offer"
    if not offer.product_id:
        offer.product_id = _discussed_product(ctx, analysis)
    if demands_discount(ctx.words):  # whatever the analysis says, a demand is not granted
        offer.client_demand = True
    decision = sales.decide(s, client, offer, ctx.kb, now, ctx.turn_id)
    s.flush()
    decisions.offer = decision


def _mentions(s: Session, client: Client, now: datetime, decisions: Decisions) -> None:
    decisions.allowed_codes, decisions.allowed_percents = sales.allowed_mentions(s, client.id, now)


def _escalate(s: Session, state: DialogState, decisions: Decisions) -> None:
    dialog = s.get(Dialog, state.dialog_id)
    assert dialog is not None, f"dialog {state.dialog_id}: the turn's dialog exists"
    dialog.needs_human = True
    s.flush()
    decisions.escalated = True


def _apply_timezone(s: Session, client: Client, tz: object, source: str) -> None:
    if not isinstance(tz, str) or not tz.strip():
        return
    try:
        ZoneInfo(tz.strip())
    except (ZoneInfoNotFoundError, ValueError):
        log.info("analysis named an unknown time zone %r; card unchanged", tz)
        return
    cards.record_change(s, client, "timezone", tz.strip(), source)


def _discussed_product(ctx: TurnContext, analysis: Analysis) -> Optional[str]:
    for entry_id in analysis.kb_ids or []:
        if ctx.kb is not None and ctx.kb.product(entry_id) is not None:
            return entry_id
    return None
