"""Small formatting helpers shared by the prompts, the offline brain and the guardrails."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

_MONTHS = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
           "сентября", "октября", "ноября", "декабря")
_WEEKDAYS_ACC = ("понедельник", "вторник", "среду", "четверг", "пятницу", "субботу",
                 "воскресенье")
_WEEKDAYS = ("понедельник", "вторник", "среда", "четверг", "пятница", "суббота",
             "воскресенье")


def clip(text: str, limit: int) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"


def fence(text: str) -> str:
    """Client text can't open or close our tags."""
    return (text or "").replace("<", "‹").replace(">", "›")


def local(dt: datetime, tz: str) -> datetime:
    try:
        return dt.astimezone(ZoneInfo(tz))
    except (KeyError, ValueError):
        return dt.astimezone(ZoneInfo("Europe/Moscow"))


def ru_date(dt: datetime, tz: str = "Europe/Moscow", year: bool = False) -> str:
    d = local(dt, tz)
    return f"{d.day} {_MONTHS[d.month - 1]}" + (f" {d.year}" if year else "")


def ru_moment(dt: datetime, tz: str = "Europe/Moscow") -> str:
    """'в пятницу, 4 декабря, в 19:00' in the client's zone."""
    d = local(dt, tz)
    return f"в {_WEEKDAYS_ACC[d.weekday()]}, {ru_date(d, tz)}, в {d:%H:%M}"


def format_rub(amount: int) -> str:
    return f"{amount:,}".replace(",", " ") + " ₽"
