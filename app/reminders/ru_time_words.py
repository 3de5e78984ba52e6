"""Russian vocabularies for the follow-up time resolver (numbers, units, weekdays,
months, parts of the day, negation) and the calendar arithmetic behind them. All keys are
lower case with "ё" replaced by "е".
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta


def _forms(stems: dict[str, int], endings: tuple[str, ...]) -> dict[str, int]:
    return {stem + end: value for stem, value in stems.items() for end in endings}


TOKEN_RE = re.compile(r"\d+(?:[.:]\d+){1,2}|\d+,\d|\d+(?:-?[а-я]{1,3}\b)?|[a-zа-я]+|[,.;!?()—–:]")


def tokenize(text: str) -> list[str]:
    """Lower-case tokens with "ё" -> "е": numbers (with "-го" etc.), words, punctuation."""
    return TOKEN_RE.findall((text or "").lower().replace("ё", "е"))


# --- cardinal numbers -------------------------------------------------------
CARDINALS: dict[str, int] = {
    "ноль": 0, "один": 1, "одна": 1, "одну": 1, "одно": 1, "одного": 1, "одной": 1,
    "два": 2, "две": 2, "двух": 2, "три": 3, "трех": 3, "четыре": 4, "четырех": 4,
    "пять": 5, "пяти": 5, "шесть": 6, "шести": 6, "семь": 7, "семи": 7,
    "восемь": 8, "восьми": 8, "девять": 9, "девяти": 9, "десять": 10, "десяти": 10,
}
_TEEN_STEMS = {"одиннадцат": 11, "двенадцат": 12, "тринадцат": 13, "четырнадцат": 14,
               "пятнадцат": 15, "шестнадцат": 16, "семнадцат": 17, "восемнадцат": 18,
               "девятнадцат": 19}
CARDINALS.update(_forms(_TEEN_STEMS, ("ь", "и")))
TENS: dict[str, int] = {
    "двадцать": 20, "двадцати": 20, "тридцать": 30, "тридцати": 30, "сорок": 40,
    "сорока": 40, "пятьдесят": 50, "пятидесяти": 50, "шестьдесят": 60, "шестидесяти": 60,
    "семьдесят": 70, "семидесяти": 70, "восемьдесят": 80, "восьмидесяти": 80,
    "девяносто": 90, "девяноста": 90,
}
# Words that count but are no clock hour: "пару", "несколько", "полтора".
SPECIAL_NUMBERS: dict[str, float] = {
    "пару": 2, "пара": 2, "пары": 2, "парочку": 2, "парочка": 2, "парочки": 2,
    "несколько": 3, "нескольких": 3, "полтора": 1.5, "полторы": 1.5, "полутора": 1.5,
}

# --- ordinal numbers (dates, "в половине седьмого") ----------------------------
_ORD_STEMS = {"перв": 1, "втор": 2, "четверт": 4, "пят": 5, "шест": 6, "седьм": 7,
              "восьм": 8, "девят": 9, "десят": 10, "двадцат": 20, "тридцат": 30}
_ORD_STEMS.update(_TEEN_STEMS)
_ORD_ENDINGS = ("ого", "ое", "ому", "ом", "ый", "ой", "ую", "ая")
ORDINALS: dict[str, int] = _forms(_ORD_STEMS, _ORD_ENDINGS)
ORDINALS.update(_forms({"трет": 3}, ("ьего", "ье", "ьему", "ьем", "ий", "ья", "ью")))

_DIGITS_RE = re.compile(r"(\d+)(?:[.,](\d))?(?:-?([а-я]+))?")
_ORD_SUFFIXES = {"го", "ого", "е", "ое", "ой", "й", "ый", "ом", "ому", "м"}


def parse_number(toks: list[str], i: int) -> tuple[float, int, bool] | None:
    """Parse a number starting at toks[i]: (value, next index, is_ordinal) or None."""
    tok = toks[i] if i < len(toks) else ""
    m = _DIGITS_RE.fullmatch(tok)
    if m:
        value = int(m[1]) + (int(m[2]) / 10 if m[2] else 0)
        return value, i + 1, bool(m[3]) and m[3] in _ORD_SUFFIXES
    nxt = toks[i + 1] if i + 1 < len(toks) else ""
    if tok in TENS:
        if CARDINALS.get(nxt, 0) in range(1, 10):
            return TENS[tok] + CARDINALS[nxt], i + 2, False
        if ORDINALS.get(nxt, 0) in range(1, 10):
            return TENS[tok] + ORDINALS[nxt], i + 2, True
        return TENS[tok], i + 1, False
    if tok in CARDINALS:
        return CARDINALS[tok], i + 1, False
    if tok in SPECIAL_NUMBERS:
        return SPECIAL_NUMBERS[tok], i + 1, False
    if tok in ORDINALS:
        return ORDINALS[tok], i + 1, True
    return None


# --- units of "через N ..." ----------------------------------------------------
UNITS: dict[str, str] = {}
for _unit, _words in {
    "min": "минута минуту минуты минут минутку минутки минуток мин",
    "hour": "час часа часов часик часика часиков ч",
    "day": "день дня дней денек денька деньков сутки суток",
    "week": "неделя неделю недели недель недельку недельки неделек нед",
    "month": "месяц месяца месяцев месяцок",
    "year": "год года лет годик",
}.items():
    UNITS.update(dict.fromkeys(_words.split(), _unit))
HALF_UNITS: dict[str, tuple[str, int]] = {
    "полчаса": ("min", 30), "полчасика": ("min", 30), "полгода": ("month", 6),
    "полгодика": ("month", 6),
}
HOUR_WORDS = {"час", "часа", "часов", "ч", "часик", "часика", "часиков"}
MINUTE_WORDS = {"минута", "минуту", "минуты", "минут", "мин"}

# --- calendar words --------------------------------------------------------------
WEEKDAYS: dict[str, int] = {}
WEEKDAYS.update(_forms({"понедельник": 0, "вторник": 1, "четверг": 3},
                       ("", "а", "у", "е", "ом")))
WEEKDAYS.update(_forms({"сред": 2, "пятниц": 4, "суббот": 5}, ("а", "у", "ы", "е", "ой")))
WEEKDAYS.update(_forms({"воскресень": 6, "воскресени": 6}, ("е", "я", "ю", "ем")))
WEEKDAYS.update({"пн": 0, "вт": 1, "ср": 2, "чт": 3, "пт": 4, "сб": 5, "вс": 6})

_MONTH_STEMS_SOFT = {"январ": 1, "феврал": 2, "апрел": 4, "июн": 6, "июл": 7,
                     "сентябр": 9, "октябр": 10, "ноябр": 11, "декабр": 12}
MONTHS: dict[str, int] = _forms(_MONTH_STEMS_SOFT, ("ь", "я", "е", "ю"))
MONTHS.update(_forms({"март": 3, "август": 8}, ("", "а", "е", "у")))
MONTHS.update({"май": 5, "мая": 5, "мае": 5, "маю": 5})
MONTH_ABBREVIATIONS = {"янв": 1, "фев": 2, "февр": 2, "мар": 3, "апр": 4, "авг": 8,
                       "сен": 9, "сент": 9, "окт": 10, "ноя": 11, "нояб": 11, "дек": 12}

NEXT_WORDS = {"следующий", "следующую", "следующее", "следующей", "следующем",
              "следующего", "следующие", "следующих", "следующая", "будущий", "будущую",
              "будущей", "будущем", "будущего", "будущие", "будущих", "будущее"}
THIS_WORDS = {"этот", "эту", "это", "этой", "этом", "этого", "эти", "этих", "эта",
              "текущей", "текущем", "текущего", "ближайший", "ближайшую", "ближайшее",
              "ближайшие", "ближайших"}
WEEK_WORDS = {"неделе", "недели", "неделю", "неделя"}
MONTH_WORDS = {"месяце", "месяца", "месяц"}
YEAR_WORDS = {"году", "года", "год"}
WEEKEND_WORDS = {"выходные", "выходных", "выходным", "уикенд", "уикенде", "уикэнд",
                 "уикэнде", "выхи"}
POSITIONS = {"начале": "start", "начала": "start", "началу": "start",
             "середине": "mid", "середины": "mid", "середину": "mid",
             "конце": "end", "конца": "end", "концу": "end", "конец": "end"}
RELATIVE_DAYS = {"сегодня": 0, "сегодняшний": 0, "завтра": 1, "послезавтра": 2,
                 "послепослезавтра": 3}

# --- parts of the day -------------------------------------------------------------
POD_TIME = {"morning": (10, 0), "lunch": (13, 0), "day": (14, 0), "afternoon": (15, 0),
            "evening": (19, 0)}
POD_GENITIVE = {"утра": "morning", "дня": "day", "вечера": "evening", "ночи": "night"}
POD_PHRASES: list[tuple[tuple[str, ...], str]] = sorted(
    ((tuple(phrase.split()), pod) for phrase, pod in {
        "утром": "morning", "утречком": "morning", "поутру": "morning",
        "с утра": "morning", "с утречка": "morning", "до обеда": "morning",
        "в первой половине дня": "morning",
        "в обед": "lunch", "к обеду": "lunch", "на обеде": "lunch",
        "в обеденное время": "lunch", "в обеденный перерыв": "lunch",
        "днем": "day", "в течение дня": "day", "в середине дня": "day",
        "после обеда": "afternoon", "во второй половине дня": "afternoon",
        "вечером": "evening", "вечерком": "evening", "к вечеру": "evening",
        "под вечер": "evening", "ночью": "night",
    }.items()),
    key=lambda item: -len(item[0]))


# --- negation, clause breaks and prepositions -----------------------------------------
CLOCK_PREPS = {"в", "во", "к", "около", "после", "до", "с", "со"}
SKIP_BACK = {"в", "во", "на", "к", "до", "после", "с", "со", "около", "где", "то", "уже"}
HARD_BREAKS = {".", "!", "?", ";", "(", ")"}
CLAUSE_BREAKS = HARD_BREAKS | {",", "—", "–", ":", "а", "но", "зато", "давайте", "давай",
                               "лучше", "или", "либо", "тогда", "однако"}
JOIN_BREAKS = {"!", "?", ";", "(", ")", "или", "либо", "не", "а", "но", "нет"}
NEG_WORDS = {"неудобно", "нет", "занят", "занята", "заняты", "никак", "некогда", "нельзя"}
NEG_VERBS = {"могу", "смогу", "можем", "сможем", "сможет", "получится", "получается",
             "выйдет", "выходит", "подходит", "подойдет", "удобно", "успею", "успеваю",
             "буду", "будет", "будем", "устраивает"}


@dataclass
class Wd:
    """A weekday: bare (strictly after today), "next" calendar week, or "this" week."""
    dow: int | None
    mode: str = "bare"
    soft: bool = False  # from "на следующей неделе": a named weekday may refine it

    @staticmethod
    def merge(a: object, b: object) -> Wd | None:
        """"в пятницу" + "на следующей неделе" (either order) -> Friday of next week."""
        if not (isinstance(a, Wd) and isinstance(b, Wd) and a.soft != b.soft):
            return None
        soft, hard = (a, b) if a.soft else (b, a)
        return Wd(hard.dow, soft.mode if hard.mode == "bare" else hard.mode)



# --- calendar arithmetic ---------------------------------------------------------------
def last_day(y: int, m: int) -> int:
    return calendar.monthrange(y, m)[1]


def add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    y, m = d.year + y, m + 1
    return date(y, m, min(d.day, last_day(y, m)))


def safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def dated(today: date, day: int, month: int, year: int | None = None) -> date | None:
    if year is not None:
        return safe_date(year, month, day)
    for y in range(today.year, today.year + 9):
        d = safe_date(y, month, day)
        if d and d > today:
            return d
    return None


def next_dom(today: date, day: int) -> date | None:
    for n in range(14):
        first = add_months(today.replace(day=1), n)
        d = safe_date(first.year, first.month, day)
        if d and d > today:
            return d
    return None


def pos_day(y: int, m: int, pos: str) -> date:
    return date(y, m, {"start": 1, "mid": 15}.get(pos) or last_day(y, m))


def month_pos(today: date, pos: str, mode: str, month: int | None = None) -> date:
    if month is not None:  # a named month: this year if still ahead
        d = pos_day(today.year, month, pos)
        return d if d > today else pos_day(today.year + 1, month, pos)
    first = add_months(today.replace(day=1), 1 if mode == "next" else 0)
    d = pos_day(first.year, first.month, pos)
    if d <= today:
        first = add_months(first, 1)
        d = pos_day(first.year, first.month, pos)
    return d


def year_pos(today: date, pos: str, mode: str) -> date:
    y = today.year + (1 if mode == "next" else 0)
    d = date(y, *{"start": (1, 1), "mid": (7, 1)}.get(pos, (12, 31)))
    return d if d > today else d.replace(year=y + 1)


def weekday_date(today: date, wd: Wd) -> date | None:
    if wd.dow is None:
        return None
    bare = today + timedelta(days=(wd.dow - today.weekday() - 1) % 7 + 1)
    monday = today - timedelta(days=today.weekday())
    if wd.mode == "next":
        return monday + timedelta(days=7 + wd.dow)
    this = monday + timedelta(days=wd.dow)
    return this if wd.mode == "this" and this > today else bare



def time_of_day(clock: tuple[int, int, bool, str | None] | None, pod: str | None) -> tuple[int, int] | None:
    """(hour, minute) from a clock time (h, m, written24, its own pod) and a part of day."""
    if clock:
        return clock_hour(clock[0], clock[3] or pod, clock[2]), clock[1]
    return (12, 0) if pod is None else POD_TIME.get(pod)


def clock_hour(h: int, pod: str | None, written24: bool) -> int:
    if pod == "evening" and h < 12 or pod in ("day", "lunch", "afternoon") and 1 <= h <= 7:
        return h + 12
    if pod == "night":
        return 24 if h == 12 else h + 12 if 8 <= h < 12 else h
    return h + 12 if pod is None and not written24 and 1 <= h <= 7 else h


def year_after(toks: list[str], j: int) -> tuple[int | None, int]:
    """An explicit year ("2027", "2027 года") at toks[j]: (year or None, next index)."""
    if j < len(toks) and re.fullmatch(r"\d{4}", toks[j]):
        return int(toks[j]), j + (2 if j + 1 < len(toks) and toks[j + 1] in YEAR_WORDS | {"г"} else 1)
    return None, j


def negated(toks: list[str], start: int, end: int) -> bool:
    """Is the expression toks[start:end] negated ("не в пятницу", "завтра не могу")?"""
    k = start - 1
    while k >= 0 and toks[k] in SKIP_BACK:
        k -= 1
    if k >= 0 and toks[k] == "не":
        return True
    lo, hi = start, end
    while lo > 0 and toks[lo - 1] not in CLAUSE_BREAKS:
        lo -= 1
    while hi < len(toks) and toks[hi] not in CLAUSE_BREAKS:
        hi += 1
    clause = toks[lo:start] + ["|"] + toks[end:hi]
    return any(t in NEG_WORDS or t == "не" and NEG_VERBS & set(clause[n + 1:n + 3])
               for n, t in enumerate(clause))
