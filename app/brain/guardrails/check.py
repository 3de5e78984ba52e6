"""Checks on a reply before it reaches the client.

`check_reply` returns flag names (empty list = fine); `check_reply_details` returns `Flag`s with
the reason and the offending fragment (stored on the turn and shown in the panel). Names:
`leak` (the internal analysis, staff notes or tags, JSON or the instructions shown), `price`
(an amount that is not the named product's KB price or an amount derived from KB prices),
`discount` (a percent, a discount in words, «бесплатно» or a promo code that the policy did not
grant), `denied` (affirms something the KB's `not_offered` says the school does not offer or do),
`empty`, `too_long`, `not_russian`, `nag` (a follow-up after a silence that nags:
«вы ещё думаете?», «актуально ли?», «вы не ответили»).
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Optional

from app.brain.contract import Decisions, TurnContext
from app.brain.guardrails.denied import denied_flags
from app.brain.guardrails.facts import kb_money
from app.brain.guardrails.leaks import echo_flags, leak_flags
from app.brain.guardrails.money import Flag, code_flags, discount_flags, price_flags

__all__ = ["FALLBACK_REPLY", "Flag", "check_reply", "check_reply_details"]

MAX_REPLY_CHARS = 3000

FALLBACK_REPLY = ("Спасибо, что написали! Хочу ответить вам точно, поэтому уточню детали "
                  "у коллег из школы — вам ответят здесь же, в этом диалоге.")

_NAG_RE = re.compile(r"ещ[её] думаете|вы ещ[её] здесь|актуальн\w* ли|актуален ли|"
                     r"(?:вы )?(?:так и )?не ответил|не получил[аи]? (?:от вас )?ответ", re.I)
_URL_RE = re.compile(r"https?://\S+|\b[\w.-]+\.(?:ru|com|me|рф)\S*", re.I)


def _granted_percents(decisions: Decisions) -> set[float]:
    percents = {float(p) for p in decisions.allowed_percents}
    if decisions.offer and decisions.offer.granted and decisions.offer.percent:
        percents.add(float(decisions.offer.percent))
    return percents


def _granted_codes(decisions: Decisions) -> set[str]:
    codes = {c.upper() for c in decisions.allowed_codes}
    if decisions.offer and decisions.offer.granted and decisions.offer.code:
        codes.add(decisions.offer.code.upper())
    return codes


def _not_russian(text: str) -> bool:
    plain = _URL_RE.sub(" ", text)
    latin = len(re.findall(r"[A-Za-z]", plain))
    cyrillic = len(re.findall(r"[А-Яа-яЁё]", plain))
    return latin + cyrillic >= 20 and latin > cyrillic


def check_reply_details(text: str, ctx: TurnContext, decisions: Decisions,
                        analysis: Optional[Any] = None) -> list[Flag]:
    """Every problem of `text`, with its reason and fragment (one per fragment)."""
    if not text or not text.strip():
        return [Flag("empty", "пустой ответ")]
    client = "\n".join(m.text for m in [*ctx.history, *ctx.new_messages]
                        if m.direction == "in" and m.text)
    flags = leak_flags(text) + echo_flags(text, ctx.card, analysis, ctx.kb, client)
    if ctx.kb is not None:
        money = kb_money(ctx.kb)
        granted = _granted_percents(decisions)
        flags += price_flags(text, money, granted, client)
        flags += discount_flags(text, money, granted, client)
        flags += code_flags(text, money, _granted_codes(decisions))
        flags += denied_flags(text, ctx.kb)
    if len(text) > MAX_REPLY_CHARS:
        flags.append(Flag("too_long", f"длиннее {MAX_REPLY_CHARS} символов"))
    if _not_russian(text):
        flags.append(Flag("not_russian", "ответ не на русском", text[:80]))
    nag = _NAG_RE.search(text) if ctx.kind == "followup" else None
    if nag:
        flags.append(Flag("nag", "после паузы не торопим и не упрекаем: пишем полезное",
                          nag.group(0)))
    unique: dict[tuple[str, str], Flag] = {}
    for f in flags:
        unique.setdefault((f.name, f.fragment), f)
    return list(unique.values())


def check_reply(text: str, ctx: TurnContext, decisions: Decisions,
                kb_ids: Iterable[str] = (), analysis: Optional[Any] = None) -> list[str]:
    """Flag names for `text`. The whole KB is the fact base whatever the prompt showed, so
    `kb_ids` (the analysis' grounding ids) is accepted for compatibility only."""
    names: list[str] = []
    for f in check_reply_details(text, ctx, decisions, analysis):
        if f.name not in names:
            names.append(f.name)
    return names
