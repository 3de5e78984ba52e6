"""Offline Russian search over a knowledge base (products and FAQ entries).

Scoring: BM25F over lemmas with weighted fields (question/title > alt questions > tags >
summary > body), query words expanded with domain synonyms, typo-tolerant matching of words
missing from the vocabulary (edit distance 1 / character trigrams / long common prefix), plus a
bonus for queries that closely match one of an entry's questions. Deterministic and fast:
per-term contributions are precomputed at build time.

Each hit also carries `support`: the idf-weighted share of the query's words the entry has,
where content words the KB never uses count as missing (see query_words) — what the offline
brain's confidence rests on, since ranking alone cannot tell that no entry answers.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from . import client_words, ru_text
from .query_words import FUZZY_WEIGHT, QueryWords
from .synonyms import GROUPS

if TYPE_CHECKING:  # pragma: no cover
    from .base import KnowledgeBase
    from .schema import FaqEntry, Product

K1 = 1.2
# field -> (weight, length normalisation b)
FIELDS = {
    "title": (3.0, 0.3), "alt": (2.2, 0.5), "tags": (2.0, 0.3), "summary": (1.4, 0.5),
    "meta": (1.0, 0.2), "suits": (1.0, 0.5), "includes": (0.7, 0.5), "body": (0.5, 0.75),
}
PHRASE_BONUS = 1.5       # weight of the best close match with one of the entry's questions
COVERAGE = 0.7           # share of the score that depends on how much of the query is matched

KIND_WORDS = {
    "course": "курс обучение",
    "bundle": "комплект набор пакет несколько курс вместе",
    "subscription": "подписка ежемесячный месяц абонемент",
    "consultation": "консультация индивидуальный личный занятие преподаватель",
}
LEVEL_WORDS = {
    "beginner": "начинающий новичок нуль начальный",
    "intermediate": "средний уровень продолжение",
    "advanced": "продвинутый опытный сложный",
    "any": "",
}


@dataclass(frozen=True)
class Hit:
    id: str
    kind: Literal["product", "faq"]
    score: float
    coverage: float = 0.0  # share of the query's (idf-weighted) words that the entry matches
    exact: float = 0.0  # the same, counting only the query's own words (no synonyms, stems)
    support: float = 0.0  # coverage, with the query's words unknown to the KB counted as unmatched


@dataclass
class _Doc:
    id: str
    kind: Literal["product", "faq"]
    fields: dict[str, list[str]]
    phrases: list[frozenset[str]]
    text: str = ""


def _product_doc(p: Product) -> _Doc:
    meta = f"{KIND_WORDS.get(p.kind, '')} {LEVEL_WORDS.get(p.level, '')} цена стоимость стоить сколько"
    if p.access_days is None:
        meta += " бессрочный навсегда"
    lm = ru_text.lemmas
    fields = {"title": lm(p.title), "summary": lm(p.summary), "meta": lm(meta),
              "suits": lm(" . ".join(p.suits)), "includes": lm(" . ".join(p.includes)),
              "body": lm(p.description)}
    text = " ".join([p.title, p.summary, *p.suits, *p.includes, p.description])
    return _Doc(p.id, "product", fields, [frozenset(fields["title"])], text)


def _faq_doc(f: FaqEntry) -> _Doc:
    lm = ru_text.lemmas
    fields = {"title": lm(f.question), "alt": lm(" . ".join(f.alt_questions)),
              "tags": lm(" . ".join(f.tags)), "body": lm(f.answer)}
    phrases = [frozenset(lm(q)) for q in [f.question, *f.alt_questions]]
    text = " ".join([f.question, *f.alt_questions, *f.tags, f.answer])
    return _Doc(f.id, "faq", fields, [p for p in phrases if p], text)


class KnowledgeIndex(QueryWords):
    """Search index over one knowledge base. Build with :meth:`build`; immutable afterwards."""

    def __init__(self, docs: list[_Doc]):
        self.docs = docs
        self.n = len(docs)
        self._cache: dict[tuple[str, int], list[Hit]] = {}  # answers memoised per index
        self._build_stats()
        self._build_vocab()

    @classmethod
    def build(cls, kb: "KnowledgeBase") -> "KnowledgeIndex":
        docs = [_product_doc(p) for p in kb.products] + [_faq_doc(f) for f in kb.faq_entries]
        return cls(docs)

    # ------------------------------------------------------------------ build
    def _build_stats(self) -> None:
        avg = {f: (sum(len(d.fields.get(f, [])) for d in self.docs) / max(self.n, 1)) or 1.0
               for f in FIELDS}
        tf: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        for i, doc in enumerate(self.docs):
            for name, tokens in doc.fields.items():
                weight, b = FIELDS[name]
                norm = 1 - b + b * len(tokens) / avg[name]
                for t in tokens:
                    tf[t][i] += weight / norm
        self.idf = {t: math.log(1 + (self.n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in tf.items()}
        self.max_idf = math.log(1 + (self.n - 0.5) / 1.5) if self.n else 1.0  # a one-entry word
        self.postings = {t: {i: self.idf[t] * v / (K1 + v) for i, v in p.items()} for t, p in tf.items()}

    def _build_vocab(self) -> None:
        self.vocab = set(self.postings)
        # word forms seen in the entries -> their index term (for typo matching on surface forms)
        self.forms: dict[str, str] = {t: t for t in self.vocab}
        for doc in self.docs:
            for w in ru_text.words(doc.text):
                lm = ru_text.lemma(w).split()
                if len(lm) == 1 and lm[0] in self.vocab:
                    self.forms.setdefault(w, lm[0])
        self.trigram_index: dict[str, set[str]] = defaultdict(set)
        for form in self.forms:
            if len(form) >= 3:
                for g in ru_text.trigrams(form):
                    self.trigram_index[g].add(form)
        # Latin words of the entries by consonant skeleton («procreate» ← «прокриейт»)
        self.latin: dict[str, set[str]] = defaultdict(set)
        for term in self.vocab:
            if re.fullmatch("[a-z]{3,}", term) and client_words.skeleton(term):
                self.latin[client_words.skeleton(term)].add(term)
        self.latin.pop("", None)
        # derivational stems of the entries' words (see ru_text.stems)
        self.stem_index: dict[str, set[str]] = defaultdict(set)
        for term in self.vocab:
            if len(term) >= ru_text.STEM_LEN and re.search("[а-я]", term):
                self.stem_index[term[:ru_text.STEM_LEN]].add(term)
                self.stem_index["^" + term[:ru_text.STEM_LEN - 1]].add(term)
            for s in ru_text.stems(term)[1:]:
                self.stem_index[s].add(term)
        self.synonyms: dict[str, set[str]] = defaultdict(set)
        for group in GROUPS:
            members = {lm for w in group.split() for lm in ru_text.lemma(w).split()}
            for m in members:
                self.synonyms[m] |= members - {m}

    # ------------------------------------------------------------------ query
    def _phrase_bonus(self, doc: _Doc, terms: dict[str, float]) -> float:
        q = {t for t, w in terms.items() if w >= FUZZY_WEIGHT * 0.6}
        if not q:
            return 0.0
        best = 0.0
        for phrase in doc.phrases:
            common = sum(self.idf.get(t, 0.0) for t in phrase & q)
            if common:
                total = sum(self.idf.get(t, 0.0) for t in phrase | q)
                best = max(best, common / total)
        return PHRASE_BONUS * best

    def search(self, query: str, k: int = 3) -> list[Hit]:
        """The k best entries for the query, best first; [] for an empty query.

        A turn asks the same question several times (prompts, guardrails): answers are
        memoised per index (an index never changes; a KB reload builds a new one)."""
        if k <= 0 or not query or not query.strip():
            return []
        key = (query, k)
        hit = self._cache.get(key)
        if hit is None:
            if len(self._cache) >= 1024:
                self._cache.clear()
            hit = self._cache[key] = self._search(query, k)
        return list(hit)

    def _search(self, query: str, k: int) -> list[Hit]:
        terms, qwords = self._analyse(query)
        scores: dict[int, float] = defaultdict(float)
        covered: dict[int, float] = defaultdict(float)
        exact: dict[int, float] = defaultdict(float)
        total = sum(self.idf.get(t, 0.0) * w for t, w in terms.items()) or 1.0
        total_exact = sum(self.idf.get(t, 0.0) for t, w in terms.items() if w >= 1.0) or 1.0
        for term, weight in terms.items():
            for i, contrib in self.postings.get(term, {}).items():
                scores[i] += weight * contrib
                covered[i] += weight * self.idf[term]
                exact[i] += self.idf[term] if weight >= 1.0 else 0.0
        for i in list(scores):
            coverage = covered[i] / total
            scores[i] = scores[i] * (1 - COVERAGE + COVERAGE * coverage)
            scores[i] += self._phrase_bonus(self.docs[i], terms)
        ranked = sorted(scores.items(), key=lambda item: (-round(item[1], 9), item[0]))
        return [Hit(self.docs[i].id, self.docs[i].kind, round(s, 4), round(covered[i] / total, 3),
                    round(exact[i] / total_exact, 3), round(self._support(i, qwords), 3))
                for i, s in ranked[:k] if s > 0]

    def search_ids(self, query: str, k: int = 3) -> list[str]:
        return [h.id for h in self.search(query, k)]

