"""Matchers of the follow-up time resolver: each turns the token run starting at token i into
one part (a day, a clock time, a part of the day, a span from now) or None. The resolver
(`resolver.py`) joins adjacent parts into expressions and picks one."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.reminders import ru_time_words as W

NUMERIC_RE = re.compile(r"(\d{1,2})([.:])(\d{1,2})(?:\.(\d{4}|\d{2}))?")


@dataclass
class Part:
    cat: str  # "day" | "clock" | "pod" | "span"
    val: object
    start: int
    end: int


class Ctx:
    def __init__(self, toks: list[str], now: datetime) -> None:
        self.toks, self.now, self.today = toks, now, now.date()

    def t(self, i: int) -> str:
        return self.toks[i] if 0 <= i < len(self.toks) else ""


# --- matchers: each returns a Part starting at token i, or None ----------------------
def _m_pod(c: Ctx, i: int) -> Part | None:
    for phrase, pod in W.POD_PHRASES:
        if tuple(c.toks[i:i + len(phrase)]) == phrase:
            return Part("pod", pod, i, i + len(phrase))
    return None


def _amount(c: Ctx, qty: float, unit: str, start: int, end: int) -> Part | None:
    if unit in ("min", "hour"):
        return Part("span", timedelta(minutes=qty * (60 if unit == "hour" else 1)), start, end)
    if qty != int(qty):
        return None
    qty = int(qty)
    if unit in ("day", "week"):
        return Part("day", c.today + timedelta(days=qty * (7 if unit == "week" else 1)), start, end)
    return Part("day", W.add_months(c.today, qty * (12 if unit == "year" else 1)), start, end)


def _m_through(c: Ctx, i: int) -> Part | None:
    unit = W.UNITS.get(c.t(i))
    if unit and c.t(i + 1) == "через":  # inverted: "минут через 10", "дня через два"
        num = W.parse_number(c.toks, i + 2)
        return _amount(c, num[0], unit, i, num[1]) if num and not num[2] else None
    if c.t(i) != "через":
        return None
    if c.t(i + 1) in W.HALF_UNITS:
        return _amount(c, W.HALF_UNITS[c.t(i + 1)][1], W.HALF_UNITS[c.t(i + 1)][0], i, i + 2)
    num = W.parse_number(c.toks, i + 1)
    qty, j = (num[0], num[1]) if num and not num[2] else (1, i + 1)
    rng = W.parse_number(c.toks, j + (c.t(j) == "или"))  # "2-3 дня", "2 или 3 дня": the first
    j = rng[1] if num and rng and c.t(rng[1]) in W.UNITS else j
    part = _amount(c, qty, W.UNITS.get(c.t(j), ""), i, j + 1) if W.UNITS.get(c.t(j)) else None
    # "через 2 часа 30 минут", "через час и 15 минут"
    if part and part.cat == "span" and isinstance(part.val, timedelta):
        k = j + 1 + (c.t(j + 1) == "и")
        extra = W.parse_number(c.toks, k)
        if extra and c.t(extra[1]) in W.MINUTE_WORDS and W.UNITS[c.t(j)] == "hour":
            part.val += timedelta(minutes=extra[0])
            part.end = extra[1] + 1
    return part


def _m_after(c: Ctx, i: int) -> Part | None:
    if c.t(i) != "после":
        return None
    if c.t(i + 1) in W.WEEKEND_WORDS:  # "после выходных" -> the next Monday
        return Part("day", W.Wd(0), i, i + 2)
    p = _m_numeric(c, i + 1) or _m_date(c, i + 1)
    if p and isinstance(p.val, date):
        return Part("day", p.val + timedelta(days=1), i, p.end)
    return None


def _m_numeric(c: Ctx, i: int) -> Part | None:
    m = NUMERIC_RE.fullmatch(c.t(i))
    if not m:
        return None
    a, b = int(m[1]), int(m[3])
    if m[4]:
        year = int(m[4]) + (2000 if len(m[4]) == 2 else 0)
        d = W.safe_date(year, b, a)
        return Part("day", d, i, i + 1) if d else None
    is_time = len(m[3]) == 2 and a <= 24 and b < 60
    if is_time and (m[2] == ":" or c.t(i - 1) in ("в", "во", "около")):
        return _clock_tail(c, i + 1, (a, b, True), i)
    d = W.dated(c.today, a, b) if 1 <= b <= 12 else None
    if d:
        return Part("day", d, i, i + 1)
    return _clock_tail(c, i + 1, (a, b, True), i) if is_time else None


def _clock_tail(c: Ctx, j: int, hm: tuple[int, int, bool], start: int) -> Part:
    """Finish a clock time: optional "утра/дня/вечера/ночи" and a range end ("до 12")."""
    pod = W.POD_GENITIVE.get(c.t(j))
    j += pod is not None
    if NUMERIC_RE.fullmatch(c.t(j)) and ":" in c.t(j):
        j += 1
    elif c.t(j) in ("до", "и") and (end := W.parse_number(c.toks, j + 1)) and not end[2]:
        j = end[1] + (c.t(end[1]) in W.HOUR_WORDS)
        if W.POD_GENITIVE.get(c.t(j)):
            pod, j = pod or W.POD_GENITIVE[c.t(j)], j + 1
    return Part("clock", (*hm, pod), start, j)


def _m_clock(c: Ctx, i: int) -> Part | None:
    j = i + 1
    if c.t(i) in W.HOUR_WORDS and c.t(i + 1) in W.CLOCK_PREPS:  # "часов в 5"
        j = i + 2
    elif c.t(i) not in W.CLOCK_PREPS:
        return None
    if c.t(j) == "полдень":
        return Part("clock", (12, 0, True, None), i, j + 1)
    half = W.ORDINALS.get(c.t(j)[3:]) if c.t(j).startswith("пол") else None
    if c.t(j) in ("половине", "пол") or half:
        num = (half, j + 1, True) if half else W.parse_number(c.toks, j + 1)
        if num and num[2] and 1 <= num[0] <= 12:
            return _clock_tail(c, num[1], (int(num[0]) - 1, 30, False), i)
        return None
    num = W.parse_number(c.toks, j)
    if not num or num[2] or c.t(j) in W.SPECIAL_NUMBERS or not (0 <= num[0] <= 24):
        return None
    h, k, minute = int(num[0]), num[1], 0
    nxt = c.t(k)
    if nxt in W.MONTHS or nxt in W.MONTH_ABBREVIATIONS or nxt in ("числа", "число", "раз", "раза"):
        return None
    if nxt in W.UNITS and nxt not in W.HOUR_WORDS and nxt not in W.POD_GENITIVE:
        return None
    if nxt in W.HOUR_WORDS:
        k += 1
        mins = W.parse_number(c.toks, k)
        if mins and c.t(mins[1]) in W.MINUTE_WORDS:
            minute, k = int(mins[0]), mins[1] + 1
    return _clock_tail(c, k, (h, minute, False), i)


def _m_date(c: Ctx, i: int) -> Part | None:
    num = W.parse_number(c.toks, i)
    if not num or c.t(i) in W.SPECIAL_NUMBERS or num[0] != int(num[0]) or not 1 <= num[0] <= 31:
        return None
    day, j, ordinal = int(num[0]), num[1], num[2]
    month = W.MONTHS.get(c.t(j)) or W.MONTH_ABBREVIATIONS.get(c.t(j))
    if month:
        year, k = W.year_after(c.toks, j + 1)
        # a day the month does not have («31 февраля») names no moment: the part is kept
        # (day None) so the month is not read alone as its 1st
        return Part("day", W.dated(c.today, day, month, year), i, k)
    if c.t(j) in ("числа", "число"):
        j += 1
    elif not ordinal or (c.t(i) in W.ORDINALS and not c.t(i).endswith("го")):
        return None
    d = W.next_dom(c.today, day)
    return Part("day", d, i, j) if d else None


def _m_month(c: Ctx, i: int) -> Part | None:
    month = W.MONTHS.get(c.t(i))
    if month is None:
        return None
    year, k = W.year_after(c.toks, i + 1)
    d = date(year, month, 1) if year else W.month_pos(c.today, "start", "this", month)
    return Part("day", d, i, k)


def _m_position(c: Ctx, i: int) -> Part | None:
    pos, j = W.POSITIONS.get(c.t(i)), i + 1
    if c.t(i) in ("первых", "последних") and c.t(i + 1) == "числах":
        pos, j = ("start" if c.t(i) == "первых" else "end"), i + 2
    if pos is None:
        return None
    mode = "next" if c.t(j) in W.NEXT_WORDS else "this"
    j += c.t(j) in W.NEXT_WORDS or c.t(j) in W.THIS_WORDS
    obj = c.t(j)
    if obj in W.MONTHS:
        year, k = W.year_after(c.toks, j + 1)
        d = W.pos_day(year, W.MONTHS[obj], pos) if year else W.month_pos(c.today, pos, "", W.MONTHS[obj])
        return Part("day", d, i, k)
    if obj in W.WEEK_WORDS:
        return Part("day", W.Wd({"start": 0, "mid": 2}.get(pos, 4), mode), i, j + 1)
    if obj in W.YEAR_WORDS:
        return Part("day", W.year_pos(c.today, pos, mode), i, j + 1)
    if obj in W.MONTH_WORDS or c.t(j - 1) == "числах":
        return Part("day", W.month_pos(c.today, pos, mode), i, j + (obj in W.MONTH_WORDS))
    return None


def _m_period(c: Ctx, i: int) -> Part | None:
    """завтра/сегодня; "следующий/этот" + weekday, week, weekend, month or year."""
    if c.t(i) in W.RELATIVE_DAYS:
        return Part("day", c.today + timedelta(days=W.RELATIVE_DAYS[c.t(i)]), i, i + 1)
    mode = "next" if c.t(i) in W.NEXT_WORDS else "this" if c.t(i) in W.THIS_WORDS else None
    j = i + (mode is not None)
    obj = c.t(j)
    if obj in W.WEEKDAYS:
        return Part("day", W.Wd(W.WEEKDAYS[obj], mode or "bare"), i, j + 1)
    if obj in W.WEEKEND_WORDS:
        return Part("day", W.Wd(5, "next" if mode == "next" else "bare"), i, j + 1)
    if mode and obj in W.WEEK_WORDS:
        return Part("day", W.Wd(0 if mode == "next" else None, mode, soft=True), i, j + 1)
    if mode == "next" and obj in W.MONTH_WORDS:
        return Part("day", W.month_pos(c.today, "start", "next"), i, j + 1)
    if mode == "next" and obj in W.YEAR_WORDS:
        return Part("day", W.year_pos(c.today, "start", "next"), i, j + 1)
    return None


MATCHERS = (_m_pod, _m_through, _m_after, _m_numeric, _m_clock, _m_position, _m_period,
            _m_date, _m_month)
