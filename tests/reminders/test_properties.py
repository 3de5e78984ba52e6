"""Property-based tests (Hypothesis, issue 20): the media URL check and the Russian time
resolver. Shrunk failing examples Hypothesis found are kept as explicit cases below."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests
from hypothesis import example, given, settings
from hypothesis import strategies as st
from urllib3.util import parse_url

from app.reminders.resolver import MAX_AHEAD, resolve
from app.vk.media import checked_url

LEAN = settings(max_examples=200, deadline=None)
ALLOWED = ("userapi.com", "vk.com", "127.0.0.1")


def _allowed(host: str) -> bool:
    return any(host == h or host.endswith("." + h) for h in ALLOWED)


# --- the media URL check -----------------------------------------------------------------------

TRICKY = st.sampled_from(["\\", "@", ":", "/", "?", "#", "[", "]", "%", ".", "-", " ", "\t",
                          "\n", "\x00", "ｖ", "．", "。", "@vk.com", "vk.com", "userapi.com",
                          "evil.net", "127.0.0.1", "sun9-1.", "443", "99999", "%40", "%5C",
                          "..", "//", "https://", "http://", "ѵ", "\u200b", "A", "z", "0"])
URLISH = st.lists(TRICKY, min_size=1, max_size=12).map("".join)


@LEAN
@given(st.one_of(URLISH.map(lambda s: "https://" + s), URLISH.map(lambda s: "http://" + s),
                 URLISH, st.text(max_size=60)))
@example("https://evil.net\\@vk.com/x")
@example("https://127.0.0.1:9\\@sun9-1.userapi.com/x.jpg")
@example("https://[vk.com/x")
@example("https://vk.com:/x")
@example("https://vk.com/@sun9-1.userapi.com/@")  # shrunk: "@" in the path is not userinfo
def test_a_checked_url_means_the_same_host_to_every_parser(url: str) -> None:
    safe = checked_url(url, ALLOWED)  # never raises
    if safe is None:
        return
    host = urlsplit(safe).hostname or ""
    assert _allowed(host)
    assert parse_url(safe).host == host and parse_url(safe).auth is None
    prepared = requests.Request("GET", safe).prepare()
    assert urlsplit(prepared.url).hostname == host
    assert "@" not in urlsplit(safe).netloc and "\\" not in safe
    assert all(" " < c < "\x7f" for c in urlsplit(safe).netloc)
    assert checked_url(safe, ALLOWED) == safe  # rebuilding is stable


SEGMENT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.~", min_size=1, max_size=12)


@LEAN
@given(sub=st.lists(st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True),
                    max_size=3),
       base=st.sampled_from(["userapi.com", "vk.com"]), path=st.lists(SEGMENT, max_size=4),
       query=st.dictionaries(SEGMENT, SEGMENT, max_size=3))
def test_plain_vk_urls_pass_unchanged(sub: list[str], base: str, path: list[str],
                                      query: dict[str, str]) -> None:
    host = ".".join([*sub, base])
    url = f"https://{host}/" + "/".join(path) + \
        ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    assert checked_url(url, ALLOWED) == url
    assert checked_url(url.replace(host, host.upper(), 1), ALLOWED) == url


AUTHORITY = URLISH.filter(lambda s: not {"/", "?", "#"} & set(s))


@LEAN
@given(left=AUTHORITY, right=URLISH)
def test_backslashes_and_userinfo_never_pass(left: str, right: str) -> None:
    assert checked_url(f"https://{left}\\{right}", ALLOWED) is None
    assert checked_url(f"https://{left}@sun9-1.userapi.com/{right}", ALLOWED) is None


# --- the Russian time resolver (shared/specs/followup-time.md) --------------------------------

ZONES = st.sampled_from(["Europe/Moscow", "Asia/Kamchatka", "America/Adak", "UTC",
                         "Asia/Kolkata", "Europe/Kaliningrad", "Australia/Lord_Howe"])
NOWS = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31),
                    timezones=st.just(timezone.utc))
WORDS = st.sampled_from(["через", "в", "на", "после", "до", "к", "не", "или", "завтра",
                         "послезавтра", "сегодня", "утром", "вечером", "днём", "пятницу",
                         "понедельник", "следующей", "неделе", "месяц", "минут", "часов",
                         "дней", "недель", "декабря", "мая", "числа", "полгода", "полчаса",
                         "пару", "несколько", "лет", ",", "15", "31", "18:30", "29.02",
                         "0", "24:00", "10000", "-5", "2.5", "тысячу"])
WEEKDAYS = ["понедельник", "вторник", "среду", "четверг", "пятницу", "субботу", "воскресенье"]
MONTHS = ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
          "сентября", "октября", "ноября", "декабря"]


def _check_moment(moment: datetime | None, now: datetime, tz: str) -> None:
    if moment is None:
        return
    assert moment.tzinfo is not None and now < moment <= now + MAX_AHEAD
    assert moment.second == 0 and moment.microsecond == 0
    assert moment.utcoffset() == moment.astimezone(ZoneInfo(tz)).utcoffset()


@LEAN
@given(words=st.lists(WORDS, min_size=1, max_size=8), now=NOWS, tz=ZONES)
@example(words=["через", "10000", "лет"], now=datetime(2026, 11, 25, 11, 30, tzinfo=timezone.utc),
         tz="Europe/Moscow")
@example(words=["29.02"], now=datetime(2027, 3, 1, tzinfo=timezone.utc), tz="UTC")
def test_the_resolver_never_raises_and_stays_ahead(words: list[str], now: datetime,
                                                   tz: str) -> None:
    _check_moment(resolve(" ".join(words), now, tz), now, tz)


@LEAN
@given(n=st.integers(1, 5000), unit=st.sampled_from([("минут", 1), ("часов", 60)]), now=NOWS,
       tz=ZONES)
def test_minutes_and_hours_from_now_are_exact(n: int, unit: tuple[str, int], now: datetime,
                                              tz: str) -> None:
    moment = resolve(f"напишите через {n} {unit[0]}", now, tz)
    expected = (now + timedelta(minutes=n * unit[1])).replace(second=0, microsecond=0)
    assert moment is not None and moment == expected
    _check_moment(moment, now, tz)


@LEAN
@given(day=st.integers(0, 6), now=NOWS, tz=ZONES)
def test_a_weekday_is_the_next_such_day_at_noon(day: int, now: datetime, tz: str) -> None:
    moment = resolve(f"давайте в {WEEKDAYS[day]}", now, tz)
    today = now.astimezone(ZoneInfo(tz)).date()
    assert moment is not None
    local = moment.astimezone(ZoneInfo(tz))
    assert local.weekday() == day and 1 <= (local.date() - today).days <= 7
    assert (local.hour, local.minute) == (12, 0)


@LEAN
@given(hour=st.integers(0, 23), minute=st.integers(0, 59), now=NOWS, tz=ZONES)
def test_tomorrow_at_a_clock_time(hour: int, minute: int, now: datetime, tz: str) -> None:
    moment = resolve(f"завтра в {hour}:{minute:02d}", now, tz)
    zone = ZoneInfo(tz)
    tomorrow = now.astimezone(zone).date() + timedelta(days=1)
    assert moment is not None
    local = moment.astimezone(zone)
    wall = datetime(tomorrow.year, tomorrow.month, tomorrow.day, hour, minute, tzinfo=zone)
    exists = wall.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None) == \
        wall.replace(tzinfo=None)
    assert local.date() == tomorrow
    if exists:  # in a DST gap the wall time does not exist: only the date is certain
        assert (local.hour, local.minute) == (hour, minute)


@LEAN
@given(day=st.integers(1, 28), month=st.integers(1, 12), now=NOWS, tz=ZONES)
def test_a_date_is_within_a_year_at_noon(day: int, month: int, now: datetime, tz: str) -> None:
    moment = resolve(f"{day} {MONTHS[month - 1]}", now, tz)
    today = now.astimezone(ZoneInfo(tz)).date()
    assert moment is not None
    local = moment.astimezone(ZoneInfo(tz))
    assert (local.day, local.month, local.hour, local.minute) == (day, month, 12, 0)
    assert 0 < (local.date() - today).days <= 366


@pytest.mark.parametrize("text", ["через 0 минут", "через -5 часов", "29.02.2027",
                                  "через 10000 лет", "в 25:00", "31 февраля"])
def test_impossible_or_past_phrases_resolve_to_nothing(text: str) -> None:
    now = datetime(2026, 11, 25, 11, 30, tzinfo=timezone.utc)
    moment = resolve(text, now, "Europe/Moscow")
    _check_moment(moment, now, "Europe/Moscow")
