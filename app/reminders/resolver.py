"""Resolve a Russian follow-up time expression to one exact moment.

See shared/specs/followup-time.md. Matchers (`ru_time_matchers.py`) turn token runs into parts (a day, a clock
time, a part of the day, a span from now); adjacent compatible parts form expressions;
negated ones are dropped; the first of the last "или" chain is resolved."""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.reminders import ru_time_words as W
from app.reminders.ru_time_matchers import MATCHERS, Ctx, Part

log = logging.getLogger(__name__)


# --- from parts to one moment ------------------------------------------------------------
def _parse(c: Ctx) -> list[Part]:
    parts, i = [], 0
    while i < len(c.toks):
        part = next((p for m in MATCHERS if (p := m(c, i))), None)
        parts.append(part) if part else None
        i = part.end if part else i + 1
    return parts


def _join(c: Ctx, group: list[Part], p: Part) -> bool:
    """Add p to the group when it is close and fills a free slot (or refines a weekday)."""
    gap = c.toks[group[-1].end:p.start]
    if len(gap) > 4 or W.JOIN_BREAKS & set(gap) or p.cat == "span" or group[0].cat == "span":
        return False
    same = next((q for q in group if q.cat == p.cat), None)
    if same is None:
        group.append(p)
        return True
    merged = W.Wd.merge(same.val, p.val) if p.cat == "day" else None
    if merged:
        same.val = merged
        group.append(Part("merged", None, p.start, p.end))
    return merged is not None


def _choose(c: Ctx, groups: list[list[Part]]) -> list[Part] | None:
    """Of alternatives joined by "или" the first; otherwise the last expression."""
    chains: list[list[list[Part]]] = []
    for g in (g for g in groups if not W.negated(c.toks, g[0].start, g[-1].end)):
        gap = c.toks[chains[-1][-1][-1].end:g[0].start] if chains else []
        if {"или", "либо"} & set(gap) and not W.HARD_BREAKS & set(gap) and len(gap) <= 6:
            chains[-1].append(g)
        else:
            chains.append([g])
    return chains[-1][0] if chains else None


def _moment(c: Ctx, group: list[Part]) -> datetime | None:
    slots = {p.cat: p.val for p in group}
    if "span" in slots:
        span = cast(timedelta, slots["span"])  # a "span" part's value is a timedelta
        moment = (c.now.astimezone(timezone.utc) + span).astimezone(c.now.tzinfo)
        return moment.replace(second=0, microsecond=0)
    day = slots.get("day", c.today)
    day = W.weekday_date(c.today, day) if isinstance(day, W.Wd) else day
    clock = cast("tuple[int, int, bool, str | None] | None", slots.get("clock"))
    hm = W.time_of_day(clock, cast("str | None", slots.get("pod")))
    if day is None or hm is None:
        return None
    local = datetime.combine(cast(date, day), datetime.min.time()) + timedelta(hours=hm[0], minutes=hm[1])
    return local.replace(tzinfo=c.now.tzinfo).astimezone(timezone.utc).astimezone(c.now.tzinfo)


MAX_AHEAD = timedelta(days=3 * 366)  # "in ten years" is not an agreement to follow up


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown time zone: {tz!r}") from exc


def _resolve(c: Ctx) -> datetime | None:
    groups: list[list[Part]] = []
    for p in _parse(c):
        if not (groups and _join(c, groups[-1], p)):
            groups.append([p])
    chosen = _choose(c, groups)
    return _moment(c, chosen) if chosen else None


def resolve(text: str, now: datetime, tz: str = "Europe/Moscow") -> datetime | None:
    """The moment named by `text` (aware, in `tz`, seconds zero) or None ("not understood"),
    also for moments the calendar cannot hold or more than MAX_AHEAD away: never an exception."""
    zone = _zone(tz)
    now = now.replace(tzinfo=zone) if now.tzinfo is None else now.astimezone(zone)
    try:
        moment = _resolve(Ctx(W.tokenize(text), now))
        if moment is None or not now < moment <= now + MAX_AHEAD:
            return None
    except (ValueError, OverflowError) as exc:  # date/timedelta out of range
        log.info("follow-up time not representable (%s): %.80r", exc, text)
        return None
    return moment


def resolve_iso(text: str, now_iso: str, tz: str = "Europe/Moscow") -> str | None:
    """Like resolve(), with `now` and the result as ISO-8601 strings."""
    moment = resolve(text, datetime.fromisoformat(now_iso), tz)
    return moment.isoformat() if moment else None
