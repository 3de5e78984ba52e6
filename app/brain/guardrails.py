"""Checks on a reply before it reaches the client.

`check_reply` returns flags (empty list = fine): `leak` (the internal analysis, JSON or the
instructions shown), `price` (an amount that is neither a KB price nor a granted discount
applied to one), `discount` (a percent or promo code that the policy did not grant),
`empty`, `too_long`, `not_russian`.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from app.brain.prompting import entry_text, kb_entry, kb_ids_for
from app.brain.prompts import distinctive_lines
from app.brain.types import Decisions, TurnContext

MAX_REPLY_CHARS = 3000
DEFAULT_DISCOUNT_CAP = 20

FALLBACK_REPLY = ("Спасибо, что написали! Хочу ответить вам точно, поэтому уточню детали "
                  "у коллег из школы — вам ответят здесь же, в этом диалоге.")

_LEAK_RE = re.compile(
    r"internal[_ ]analysis|funnel[_ ]stage|psych[_ ]state|short[_ ]term[_ ]strategy|"
    r"long[_ ]term[_ ]strategy|reply[_ ]plan|kb[_ ]ids|follow[_ ]up\b|"
    r"</?\s*(?:внутренн|решения_программы|карточка_клиента|база_знаний|новые_сообщения|история_диалога)|"
    r"\b(?:стратеги[яи]|анализ|план ответа|решения программы|системн\w* промпт\w*)\s*:|"
    r"\{\s*\"[\w ]+\"\s*:|\"[a-z_]{3,}\"\s*:\s*[\[{\"\dtfn]",
    re.I)

_SPACE = "[ \u00a0\u202f]"
_NUM = rf"\d{{1,3}}(?:{_SPACE}\d{{3}})+|\d+(?:[.,]\d+)?"
_AMOUNT_RE = re.compile(
    rf"(?<![\d.,])({_NUM}){_SPACE}*(тыс(?:яч[аи]?)?\.?|k\b)?{_SPACE}*"
    r"(₽|руб(?:л[а-яё]*|\.)?|р\.|rub\b)?", re.I)
_PERCENT_RE = re.compile(rf"(?<![\d.,])(\d{{1,3}}(?:[.,]\d+)?){_SPACE}*(%|процент\w*)", re.I)
_DISCOUNT_CONTEXT_RE = re.compile(
    r"скидк|промо|купон|дешевле|выгод|акци|распрода|снижен|уступ|\boff\b|\bsale\b|минус", re.I)
_CODE_AFTER_RE = re.compile(
    r"(?:промо-?код\w*|купон\w*|код\w*|code)\W{0,3}[«\"']?([A-Za-z0-9][A-Za-z0-9_-]{2,})", re.I)
_CODE_TOKEN_RE = re.compile(r"\b(?=[A-Z0-9_-]*\d)(?=[A-Z0-9_-]*[A-Z])[A-Z][A-Z0-9_-]{3,}\b")
_URL_RE = re.compile(r"https?://\S+|\b[\w.-]+\.(?:ru|com|me|рф)\S*", re.I)


def _num(raw: str) -> float:
    return float(re.sub(r"[ \u00a0\u202f]", "", raw).replace(",", "."))


def _kb_prices(kb: Any) -> set[int]:
    try:
        return {int(p) for p in kb.prices()}
    except AttributeError:
        prices: set[int] = set()
        for p in getattr(kb, "products", None) or []:
            prices.add(int(p.price_rub))
            if getattr(p, "extension", None):
                prices.add(int(p.extension.price_rub))
        return prices


def _granted_percents(decisions: Decisions) -> set[int]:
    percents = set(decisions.allowed_percents)
    if decisions.offer and decisions.offer.granted and decisions.offer.percent:
        percents.add(decisions.offer.percent)
    return percents


def _granted_codes(decisions: Decisions) -> set[str]:
    codes = {c.upper() for c in decisions.allowed_codes}
    if decisions.offer and decisions.offer.granted and decisions.offer.code:
        codes.add(decisions.offer.code.upper())
    return codes


def _stated(texts: Iterable[str]) -> tuple[set[float], set[float]]:
    """Amounts and percents stated in the KB passages the reply was grounded on."""
    amounts: set[float] = set()
    percents: set[float] = set()
    for text in texts:
        for number, thousands, currency in _AMOUNT_RE.findall(text):
            if thousands or currency:
                amounts.add(_num(number) * (1000 if thousands else 1))
        percents |= {_num(m.group(1)) for m in _PERCENT_RE.finditer(text)}
    return amounts, percents


def allowed_amounts(kb: Any, percents: Iterable[int]) -> set[int]:
    base = _kb_prices(kb)
    out = set(base) | {0}
    for price in base:
        for pct in percents:
            cut = price * (100 - pct) / 100
            saved = price * pct / 100
            out |= {int(cut), round(cut), int(saved), round(saved)}
    return out


def _price_flags(text: str, kb: Any, percents: set[int], stated: set[float]) -> bool:
    allowed = allowed_amounts(kb, percents) | stated
    for match in _AMOUNT_RE.finditer(text):
        number, thousands, currency = match.groups()
        if not thousands and not currency:
            continue
        value = _num(number) * (1000 if thousands else 1)
        if not any(abs(value - a) <= 1 for a in allowed):
            return True
    return False


def _discount_flags(text: str, kb: Any, decisions: Decisions, stated: set[float]) -> bool:
    percents = _granted_percents(decisions) | stated
    offers = getattr(kb, "offers", None)
    cap = getattr(offers, "max_discount_percent", DEFAULT_DISCOUNT_CAP)
    for match in _PERCENT_RE.finditer(text):
        value = _num(match.group(1))
        near = text[max(0, match.start() - 60): match.end() + 60]
        in_context = bool(_DISCOUNT_CONTEXT_RE.search(near))
        if value > cap and (value != 100 or in_context):
            return True
        if in_context and value not in percents:
            return True
    codes = _granted_codes(decisions)
    found = {m.group(1).upper() for m in _CODE_AFTER_RE.finditer(text)
             if re.search(r"\d|[A-Z]{4,}", m.group(1))}
    found |= {m.group(0).upper() for m in _CODE_TOKEN_RE.finditer(_URL_RE.sub(" ", text))}
    return bool(found - codes)


def _leaks(text: str) -> bool:
    bare = text.strip().strip("`").strip()
    if _LEAK_RE.search(text) or (bare[:1] in "{[" and bare[-1:] in "}]"):
        return True
    low = re.sub(r"\s+", " ", text.lower())
    return any(line in low for line in distinctive_lines())


def _not_russian(text: str) -> bool:
    plain = _URL_RE.sub(" ", text)
    latin = len(re.findall(r"[A-Za-z]", plain))
    cyrillic = len(re.findall(r"[А-Яа-яЁё]", plain))
    return latin + cyrillic >= 20 and latin > cyrillic


def check_reply(text: str, ctx: TurnContext, decisions: Decisions,
                kb_ids: Iterable[str] = ()) -> list[str]:
    """Flags for `text`; `kb_ids` are the analysis' grounding ids (their stated numbers pass)."""
    if not text or not text.strip():
        return ["empty"]
    grounded = [entry_text(kb_entry(ctx.kb, i)) for i in kb_ids_for(ctx, kb_ids)]
    amounts, stated_percents = _stated(grounded)
    flags: list[str] = []
    if _leaks(text):
        flags.append("leak")
    if _price_flags(text, ctx.kb, _granted_percents(decisions), amounts):
        flags.append("price")
    if _discount_flags(text, ctx.kb, decisions, stated_percents):
        flags.append("discount")
    if len(text) > MAX_REPLY_CHARS:
        flags.append("too_long")
    if _not_russian(text):
        flags.append("not_russian")
    return flags
