"""How clients say things, normalised before search: set phrases and Latin names in Cyrillic.

`normalise_phrases` rewrites colloquial set phrases of any school's clients into the words an
entry would use («со скольки лет» → «возраст», «из-за границы» → «зарубежный»). `skeleton`
gives a consonant skeleton of a Latin or Cyrillic word, so that a brand or program name typed
in Cyrillic («прокриейт», «зум», «гетурс») finds the Latin word of the KB («Procreate»).
"""
from __future__ import annotations

import re
from collections.abc import Callable

PHRASES: list[tuple[re.Pattern[str], str]] = [(re.compile(p), r) for p, r in (
    (r"(?:\bс|\bсо|\bво)\s+скольки\s+лет|с какого возраста|\bво сколько лет|"
     r"\bдо скольки лет|\bсколько (?:мне )?должно быть лет", " возраст "),
    (r"из-за (?:границы|рубежа)|из другой страны|\bза (?:границей|рубежом)|"
     r"не из росси\w*|иностранн\w* карт\w*", " зарубежный "),
    (r"\bс чего (?:мне )?(?:начать|начинать)|никогда (?:раньше |ещё |еще )?не "
     r"(?:пел\w*|играл\w*|рисовал\w*|занимал\w*|учил\w*)", " новичок нуль "),
    (r"\bсколько (?:нужно |надо )?ждать|\bкак долго ждать|\bкогда (?:придёт|придет|откроется|"
     r"дадут|получу)", " когда получить "),
    (r"\bсколько (?:нужно |надо )?(?:времени|минут|часов)(?: в (?:день|неделю))?",
     " время заниматься "),
    (r"\bвернуть деньги|\bденьги назад|\bверните деньги", " возврат "),
    (r"\bвс[её] (?:сразу|разом|вместе|оптом)|\bвсе курсы|\bвсю программу", " комплект "),
    (r"\bлев(?:ой|ую) рук\w*", " левша "),
)]

_CYR = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "", "k", "l", "m", "n", "o",
                 "p", "r", "s", "t", "u", "f", "h", "ts", "ch", "sh", "sh", "", "y", "", "e",
                 "yu", "ya"], strict=True))
_LATIN_FOLD = (("ph", "f"), ("ck", "k"), ("c", "k"), ("q", "k"), ("x", "ks"), ("w", "v"),
               ("j", "zh"), ("ts", "s"), ("z", "s"), ("th", "t"))


def normalise_phrases(text: str) -> str:
    """The text with the canonical words added after each set phrase (the phrase stays)."""
    for rx, repl in PHRASES:
        text = rx.sub(_appender(repl), text)
    return text


def _appender(tail: str) -> Callable[[re.Match[str]], str]:
    """A replacement that keeps the matched phrase and adds `tail` after it."""
    def append(m: re.Match[str]) -> str:
        return m.group(0) + " " + tail
    return append


def skeleton(word: str) -> str:
    """Consonant skeleton, the same for «procreate» and «прокриейт»; '' for short words."""
    latin = "".join(_CYR.get(ch, ch) for ch in word.lower())
    for a, b in _LATIN_FOLD:
        latin = latin.replace(a, b)
    cons = re.sub(r"[^a-z]|[aeiouy]", "", latin)
    cons = re.sub(r"(.)\1+", r"\1", cons)
    return cons if len(cons) >= 3 else ""
