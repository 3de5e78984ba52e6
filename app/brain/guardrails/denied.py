"""What the school does not offer or do (the KB's `not_offered`): a reply must not affirm it.

Each entry is a short phrase («Очные занятия», «Диплом государственного образца»). A sentence of
the reply affirms an entry when it contains every meaningful word of the phrase (in any form:
«очное занятие», «доставим материалы») and no clause holding those words is negated («очных
занятий нет», «это не диплом…», «курс по акрилу готовим к весне»). Questions affirm nothing.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Optional

from app.brain.guardrails.facts import GENERIC, sentences
from app.brain.guardrails.money import Flag
from app.knowledge import ru_text

if TYPE_CHECKING:
    from app.knowledge.base import KnowledgeBase

_CLAUSE_RE = re.compile(r"[,;:()«»\"]|\s[—–-]\s|\s(?:а|но|зато|однако|хотя)\s", re.I)
_NEGATION_RE = re.compile(
    r"(?<![а-яё])(?:не|нет|ни|нельзя|пока|увы)(?![а-яё])|к сожалению|отсутству\w*|"
    r"только онлайн|готовим|планиру\w*|скоро|в планах", re.I)
_CACHE: dict[int, tuple[Any, list[tuple[str, list[str]]]]] = {}


def _words(text: str) -> list[str]:
    return [w for w in ru_text.lemmas(text) if not w.isdigit() and w not in GENERIC]


def _same(a: str, b: str) -> bool:
    """One word in two forms («очный»/«очно», «скачивание»/«скачать»): a common start of at
    least 3 letters (4, or most of a short word) that leaves at most 4 letters of the shorter."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    short = min(len(a), len(b))
    return n >= 3 and (n >= 4 or n >= 0.6 * short) and n >= short - 4


_WITHOUT_RE = re.compile(r"(?<![а-яё])без\s+((?:[а-яё-]+\s+){0,1}[а-яё-]+)", re.I)


def _without(clause: str, words: list[str]) -> bool:
    """«курс без очных занятий»: «без» right before the thing itself (not «без интернета»)."""
    return any(_same(w, s) for m in _WITHOUT_RE.finditer(clause)
               for s in ru_text.lemmas(m.group(1)) for w in words)


def denied_entries(kb: Optional[KnowledgeBase]) -> list[tuple[str, list[str]]]:
    """(phrase, its meaningful lemmas) per `not_offered` entry (memoised per KB object)."""
    hit = _CACHE.get(id(kb))
    if hit is not None and hit[0] is kb:
        return hit[1]
    out = [(phrase, _words(phrase)) for phrase in (kb.not_offered if kb is not None else [])]
    out = [(p, w) for p, w in out if w]
    if len(_CACHE) >= 8:
        _CACHE.clear()
    _CACHE[id(kb)] = (kb, out)
    return out


def denied_flags(text: str, kb: Optional[KnowledgeBase]) -> list[Flag]:
    entries = denied_entries(kb)
    if not entries:
        return []
    flags: list[Flag] = []
    for sentence in sentences(text):
        if sentence.rstrip().endswith("?"):
            continue
        clauses = [(c, ru_text.lemmas(c)) for c in _CLAUSE_RE.split(sentence) if c and c.strip()]
        said = [w for _, lemmas in clauses for w in lemmas]
        for phrase, words in entries:
            if not all(any(_same(w, s) for s in said) for w in words):
                continue
            holding = [c for c, lemmas in clauses
                       if any(_same(w, s) for w in words for s in lemmas)]
            if any(_NEGATION_RE.search(c) or _without(c, words) for c in holding):
                continue
            flags.append(Flag("denied", f"школа этого не делает (база знаний: «{phrase}»)",
                              sentence.strip()[:160]))
    return flags
