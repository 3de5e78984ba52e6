"""Russian text normalisation for knowledge-base search: tokens, stop words, lemmas.

The pymorphy3 analyser is created lazily once per process; lemmas are cached.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

from .synonyms import SLANG

_WORD_RE = re.compile(r"[a-zа-я0-9]+(?:-[a-zа-я0-9]+)*")

# Greetings, introductions and politeness formulas removed before tokenising.
_NOISE_RE = re.compile(
    r"(?<![a-zа-я])(?:добр(?:ый|ого|ое|ой)\s+(?:день|дня|вечер|вечера|утро|утра|ночи|времени\s+суток)"
    r"|здравствуй(?:те)?|здрасьте|привет(?:ствую)?|хай|доброго времени суток"
    r"|меня\s+зовут\s+[a-zа-я]+"
    r"|заранее\s+спасибо|спасибо(?:\s+большое)?|благодарю"
    r"|подскажите(?:\s+пожалуйста)?|скажите(?:\s+пожалуйста)?|пожалуйста|пож|плиз"
    r"|у меня (?:такой|вопрос)|такой вопрос|вопрос(?:ик)?\s+такой)(?![a-zа-я])"
)

STOP_WORDS = frozenset("""
а и но или либо да же ли бы ль уж вот ну вон ведь то это этот эта эти тот та те такой такая такое
так там тут здесь где когда если чтобы что чем как какой какая какие каков кто кого кому
я ты он она оно мы вы они меня мне мной тебя тебе его ему её ее ей им ими их нас нам вас вам
мой моя моё мое мои твой ваш ваша ваше ваши наш наша наше наши свой своя своё свои себя себе
в во на с со к ко от до по за из у о об про для при над под без через между перед около
не ни нет уже еще ещё всё все весь вся очень просто вообще вроде типа короче кстати
тоже также только даже ещё ага угу ок окей хорошо ладно спасибо пожалуйста
быть есть был была было были будет будут являться мочь
здравствуйте привет добрый подскажите скажите хотеть хотел хотела
вопрос интересовать интересует подсказать сказать узнать делать сделать
""".split())

# Words of a learning request that say little about which entry answers it («как научиться …»):
# they count at half weight in queries.
LIGHT_WORDS = frozenset("научиться учиться научить обучиться обучаться брать взять".split())

class _Tag(Protocol):
    """The part of a pymorphy3 tag the search reads (pymorphy3 ships no types)."""

    @property
    def POS(self) -> object: ...

    @property
    def grammemes(self) -> frozenset[str]: ...


class _Parse(Protocol):
    @property
    def normal_form(self) -> str: ...

    @property
    def score(self) -> float: ...

    @property
    def tag(self) -> _Tag: ...


class _Analyzer(Protocol):
    def parse(self, word: str) -> Sequence[_Parse]: ...

    def word_is_known(self, word: str) -> bool: ...


_morph: _Analyzer | None = None
_morph_lock = threading.Lock()


def morph() -> _Analyzer:
    """The shared pymorphy3 analyser (created on first use)."""
    global _morph
    if _morph is None:
        with _morph_lock:
            if _morph is None:
                import pymorphy3
                _morph = pymorphy3.MorphAnalyzer()
    assert _morph is not None
    return _morph


def fold(text: str) -> str:
    return text.lower().replace("ё", "е")


def strip_noise(text: str) -> str:
    """Lowercase, fold ё and remove greetings and politeness formulas."""
    return _NOISE_RE.sub(" ", fold(text))


def words(text: str) -> list[str]:
    return _WORD_RE.findall(fold(text))


@lru_cache(maxsize=50_000)
def lemma(word: str) -> str:
    """Normal form of a folded word; slang is mapped first, ё folded to е."""
    word = SLANG.get(word, word)
    if word not in SLANG.values() and not is_known(word):
        for cut in (1, 2):  # "айпада" -> "айпад" -> "планшет"
            if len(word) - cut >= 3 and word[:-cut] in SLANG:
                word = SLANG[word[:-cut]]
                break
    if " " in word or not re.search("[а-я]", word):
        return word
    parsed = morph().parse(word)
    form = parsed[0].normal_form if parsed else word
    return SLANG.get(fold(form), fold(form))


@lru_cache(maxsize=50_000)
def alt_lemmas(word: str) -> tuple[str, ...]:
    """Normal forms of the word's other readings («пою» → петь as well as поить)."""
    if not re.search("[а-я]", word) or word in SLANG:
        return ()
    forms = dict.fromkeys(fold(p.normal_form) for p in morph().parse(word))
    return tuple(f for f in forms if f != lemma(word))


@lru_cache(maxsize=50_000)
def is_known(word: str) -> bool:
    """True when the word is in the pymorphy dictionary (not a guess)."""
    if not re.search("[а-я]", word):
        return True
    return morph().word_is_known(word)


def split_words(text: str) -> list[str]:
    """Words, and also the parts of hyphenated ones («рок-баллады» → рок-баллады, рок, баллады)."""
    out = []
    for w in words(text):
        out.append(w)
        if "-" in w and w not in SLANG:
            out += [part for part in w.split("-") if len(part) >= 2]
    return out


STEM_LEN = 5
_PREFIXES = ("пере", "разо", "рас", "раз", "при", "про", "под", "пред", "об", "от", "за", "вы",
             "на", "по", "до", "из", "ис")


def stems(lemma_: str) -> list[str]:
    """Crude derivational stems of a lemma: its first STEM_LEN letters and, for a prefixed word,
    the first STEM_LEN-1 letters after the prefix («проверка»/«проверять» → «прове»;
    «задыхаться» → «дыха» like «дыхание»)."""
    if len(lemma_) < STEM_LEN + 1 or not re.search("[а-я]", lemma_):
        return []
    out = [lemma_[:STEM_LEN]]
    for prefix in _PREFIXES:
        rest = lemma_[len(prefix):]
        if lemma_.startswith(prefix) and len(rest) >= STEM_LEN:
            out.append("~" + rest[:STEM_LEN - 1])
            break
    return out


def lemmas(text: str, drop_stop: bool = True, noise: bool = False) -> list[str]:
    """Lemmas of the text's words (and of hyphenated words' parts), stop words removed."""
    source = strip_noise(text) if noise else text
    out = []
    for w in split_words(source):
        if drop_stop and w in STOP_WORDS:
            continue
        for lm in lemma(w).split():
            if not (drop_stop and lm in STOP_WORDS):
                out.append(lm)
    return out


@lru_cache(maxsize=50_000)
def trigrams(word: str) -> frozenset[str]:
    padded = f" {word} "
    return frozenset(padded[i:i + 3] for i in range(len(padded) - 2))


def edit_distance_le1(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance <= 1 (one insert, delete, substitution or transposition)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (len(diff) == 2 and diff[1] == diff[0] + 1
                and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    if la > lb:
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1:]


_CONTENT_POS = {"NOUN": 1.0, "ADJF": 0.6, "ADJS": 0.6, "VERB": 0.6, "INFN": 0.6, "PRTF": 0.6,
                "PRTS": 0.6, "GRND": 0.6}


@lru_cache(maxsize=50_000)
def content_weight(word: str) -> float:
    """How much a query word carries the question's subject: 1 for a noun or a Latin name,
    0.6 for a verb or an adjective, 0 for function words, pronouns, adverbs, numbers and
    fillers. An ambiguous form takes its lightest likely reading («берёте»: not a beret)."""
    if word in SLANG:  # «норм» is «нормально», not «норма»
        return max((content_weight(w) for w in SLANG[word].split() if w != word), default=0.0)
    if len(word) < 3 or word in STOP_WORDS or word in LIGHT_WORDS or "-" in word:
        return 0.0
    if re.fullmatch("[a-z]+", word):
        return 1.0
    if not re.search("[а-я]", word):
        return 0.0
    parses = [p for p in morph().parse(word) if p.score >= 0.1] or morph().parse(word)[:1]
    weights = [0.0 if fold(p.normal_form) in STOP_WORDS | LIGHT_WORDS
               or {"Apro", "Anum"} & p.tag.grammemes else _CONTENT_POS.get(str(p.tag.POS), 0.0)
               for p in parses]
    return min(weights, default=0.0)
