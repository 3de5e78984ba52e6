"""Grouping client questions worded differently: lemmas, synonym groups, weighted overlap.

No model: each question becomes a set of content lemmas (pymorphy3, stop words and greetings
removed, synonyms folded to one word of their group). Words every school question has
("курс", "урок", "заниматься"...) weigh little. Two questions are alike when the shared
weight is at least half of the smaller question's weight and they share a content word;
a question joins the group of its most alike earlier question (single-link clustering).
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from app.knowledge.ru_text import lemma, lemmas
from app.knowledge.synonyms import GROUPS

GENERIC = frozenset("""
курс урок занятие заниматься учить учиться обучение научиться школа преподавать можно нужно
мочь хотеть делать сделать играть игра музыка пианино фортепиано ваш свой какой как
""".split())
GENERIC_WEIGHT = 0.25
SIMILAR = 0.5
MAX_EXAMPLES = 3
_SENTENCE_RE = re.compile(r"[^.!?\n]*\?")


@lru_cache(maxsize=1)
def _canon() -> dict[str, str]:
    """lemma -> the lemma of the first word of its synonym group."""
    out: dict[str, str] = {}
    for group in GROUPS:
        words = [lemma(w) for w in group.split()]
        for w in words:
            out.setdefault(w, words[0])
    return out


def question_text(body: str) -> str:
    """The question(s) of a client's message, else the message; one line, at most 300 chars."""
    asked = [q.strip() for q in _SENTENCE_RE.findall(body) if len(q.strip()) > 1]
    chosen = " ".join(asked) if asked else body
    return " ".join(chosen.split())[:300]


@lru_cache(maxsize=20_000)
def tokens(body: str) -> frozenset[str]:
    canon = _canon()
    return frozenset(canon.get(lm, lm) for lm in lemmas(body, noise=True) if len(lm) > 1)


@lru_cache(maxsize=100_000)
def weight(words: frozenset[str]) -> float:
    return sum(GENERIC_WEIGHT if w in GENERIC else 1.0 for w in words)


def similar(a: frozenset[str], b: frozenset[str]) -> bool:
    shared = a & b
    if not shared or shared <= GENERIC:
        return False
    return weight(shared) >= SIMILAR * min(weight(a), weight(b))


@dataclass
class Question:
    turn_id: int
    dialog_id: int
    at: datetime
    text: str


@dataclass
class Group:
    members: list[tuple[Question, str, frozenset[str]]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.members)

    @property
    def last_at(self) -> datetime:
        return max(q.at for q, _, _ in self.members)

    @property
    def examples(self) -> list[str]:
        seen: dict[str, None] = {}
        for _, text, _ in self.members:
            seen.setdefault(text, None)
        return list(seen)[:MAX_EXAMPLES]

    @property
    def title(self) -> str:
        """The wording closest to the whole group: the most shared words, then the shortest."""
        common = Counter(w for _, _, toks in self.members for w in toks)
        return max(self.members, key=lambda m: (sum(common[w] for w in m[2]) / (len(m[2]) or 1),
                                                -len(m[1])))[1]

    @property
    def dialog_ids(self) -> list[int]:
        return list(dict.fromkeys(q.dialog_id for q, _, _ in self.members))

    @property
    def turn_ids(self) -> list[int]:
        return [q.turn_id for q, _, _ in self.members]


MEMBERS_COMPARED = 8  # per group and word: bounds the work for a huge period


def group_questions(questions: list[Question]) -> list[Group]:
    """Groups, most frequent first (then the most recent)."""
    groups: list[Group] = []
    index: dict[str, dict[int, list[frozenset[str]]]] = defaultdict(dict)
    for q in sorted(questions, key=lambda q: (q.at, q.turn_id)):
        text = question_text(q.text)
        toks = tokens(text) or tokens(q.text)
        if not toks:
            continue  # "?" or a bare greeting: nothing to add to the knowledge base
        best = _best_group(toks, index)
        if best is None:
            best = len(groups)
            groups.append(Group())
        groups[best].members.append((q, text, toks))
        for w in toks - GENERIC or toks:
            seen = index[w].setdefault(best, [])
            if len(seen) < MEMBERS_COMPARED:
                seen.append(toks)
    return sorted(groups, key=lambda g: (-g.count, -g.last_at.timestamp()))


def _best_group(toks: frozenset[str],
                index: dict[str, dict[int, list[frozenset[str]]]]) -> int | None:
    best, best_score = None, 0.0
    for w in toks - GENERIC or toks:
        for gid, members in index.get(w, {}).items():
            for other in members:
                if toks == other or similar(toks, other):
                    score = weight(toks & other) / (weight(toks | other) or 1)
                    if score > best_score:
                        best, best_score = gid, score
    return best
