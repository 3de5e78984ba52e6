"""Issue 16.6: the follow-up resolver never raises. Random Russian time phrases and numbers
(huge, negative, zero, fractional, impossible dates) → a moment within MAX_AHEAD, or None."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from app.reminders import ru_time_words as W
from app.reminders.resolver import MAX_AHEAD, resolve

NOW = datetime(2026, 11, 25, 11, 30, tzinfo=timezone.utc)
GLUE = ["через", "в", "во", "на", "после", "до", "к", "около", "не", "или", "и", "давайте",
        "напишите", "мне", "числа", "утром", "днём", "вечером", "ночью", "завтра",
        "послезавтра", "сегодня", "следующей", "неделе", "месяце", "году", "полгода",
        "полчаса", "пол", "часа", "половине", "без", "четверти", "понедельник", "пятницу",
        "выходных", "лет", "год", "года", "веков", "тысячу", "миллион", ",", ".", "—", "?"]
ZONES = ["Europe/Moscow", "Asia/Kamchatka", "America/Adak", "UTC", "Asia/Kolkata"]


def _number(rng: random.Random) -> str:
    kind = rng.randrange(8)
    if kind == 0:
        return str(rng.randrange(10 ** rng.randrange(1, 40)))
    if kind == 1:
        return f"{rng.randrange(100)}.{rng.randrange(100)}.{rng.randrange(10000)}"
    if kind == 2:
        return f"{rng.randrange(100)}:{rng.randrange(100)}"
    if kind == 3:
        return f"-{rng.randrange(100000)}"
    if kind == 4:
        return f"{rng.randrange(1000)},{rng.randrange(10)}"
    if kind == 5:
        return f"{rng.randrange(40)}-{rng.choice(['го', 'ое', 'е', 'ого', 'м'])}"
    return str(rng.randrange(0, 10 ** 6))


def _phrase(rng: random.Random, vocab: list[str]) -> str:
    words = [_number(rng) if rng.random() < 0.3 else rng.choice(vocab)
             for _ in range(rng.randrange(1, 9))]
    return " ".join(words)


@pytest.mark.parametrize("seed", range(6))
def test_random_phrases_never_raise(seed: int) -> None:
    rng = random.Random(seed)
    vocab = GLUE + list(W.UNITS) + list(W.MONTHS) + list(W.HOUR_WORDS) + list(W.MINUTE_WORDS)
    resolved = 0
    for _ in range(1500):
        text, tz = _phrase(rng, vocab), rng.choice(ZONES)
        now = NOW + timedelta(minutes=rng.randrange(-10 ** 6, 10 ** 6))
        moment = resolve(text, now, tz)  # must not raise
        if moment is not None:
            resolved += 1
            assert moment.tzinfo is not None and now < moment <= now + MAX_AHEAD, (text, tz)
    assert resolved > 50  # the fuzz reaches the resolving paths, not only "not understood"


@pytest.mark.parametrize("text", [
    "напишите мне через 10000 лет", "через 10000 лет", "через 99999999999999999999 минут",
    "через 999999999 дней", "через 100000000 недель", "через 5000 месяцев", "через 20 лет",
    "напишите 31.02.2027", "через 1e308 часов",
])
def test_unrepresentable_or_absurd_dates_are_not_understood(text: str) -> None:
    assert resolve(text, NOW, "Europe/Moscow") is None


def test_a_few_years_ahead_still_resolves() -> None:
    # the same date two years on, at the default hour (spec: followup-time, rules 1 and 3)
    moment = resolve("через 2 года", NOW, "Europe/Moscow")
    assert moment is not None and moment.isoformat() == "2028-11-25T12:00:00+03:00"
