"""How a query's words meet a knowledge base's vocabulary (a mixin of KnowledgeIndex).

Each query word becomes weighted index terms: its lemma, another reading, a typo guess, synonyms
and same-stem words of the entries. Each word also tells how much of it the KB lacks: a content
word the entries never use («лагерь», «филармония») is part of the question no entry answers,
which `support` counts against every entry (the offline brain's confidence rests on it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import client_words, ru_text

SYNONYM_WEIGHT = 0.4
STEM_WEIGHT = 0.45       # a word of the same stem («проверка» → «проверять»)
FUZZY_WEIGHT = 0.8
PREFIX_WEIGHT = 0.4
WELL_MATCHED = 0.8       # a query word matched at least this well is one the KB knows
UNKNOWN_WEIGHT = 2.0     # a content word the KB never uses weighs this many of its rarest words


@dataclass(frozen=True)
class _QueryWord:
    """One word of a query: its index terms (with synonyms and same-stem words), the weight
    the KB gives it (its best term's idf), and the weight of what the KB lacks of it: a content
    word the entries never use counts as `UNKNOWN_WEIGHT` of their rarest words, a weakly
    matched one (a far typo guess, a synonym only) in part."""
    terms: dict[str, float]
    mass: float
    unknown: float
    content: float = 0.0  # ru_text.content_weight: 1 for a noun


class QueryWords:
    """Query analysis over the index's vocabulary (`vocab`, `idf`, `postings`, `forms`,
    `trigram_index`, `latin`, `stem_index`, `synonyms`, `max_idf`), built by KnowledgeIndex."""
    vocab: set[str]
    idf: dict[str, float]
    max_idf: float
    postings: dict[str, dict[int, float]]
    forms: dict[str, str]
    trigram_index: dict[str, set[str]]
    latin: dict[str, set[str]]
    stem_index: dict[str, set[str]]
    synonyms: dict[str, set[str]]

    def _fuzzy(self, word: str, known: bool) -> tuple[str, float] | None:
        """Closest vocabulary term for a word the index does not contain."""
        if len(word) < 4 or not re.search("[а-я]", word):
            return None
        grams = ru_text.trigrams(word)
        cands = set().union(*(self.trigram_index.get(g, ()) for g in grams))
        best: tuple[float, str] | None = None
        for term in sorted(cands):
            close = ru_text.edit_distance_le1(word, term)
            sim = len(grams & ru_text.trigrams(term)) / len(grams | ru_text.trigrams(term))
            if close or (not known and sim >= 0.45 and abs(len(term) - len(word)) <= 2):
                score = sim + (1.0 if close else 0.0)
                if best is None or score > best[0]:
                    best = (score, term)
        if best:
            return self.forms[best[1]], FUZZY_WEIGHT if not known else FUZZY_WEIGHT * 0.6
        if len(word) >= 6:
            stem = word[:5]
            prefixed = sorted(t for t in self.vocab if t.startswith(stem))
            if prefixed:
                return prefixed[0], PREFIX_WEIGHT
        return None

    def foreign_nouns(self, query: str) -> int:
        """How many of the query's nouns the KB does not know well (none of its words, only a
        far look-alike): «настройщика … в Казани» — a subject the entries do not cover."""
        return sum(1 for w in self._analyse(query)[1] if w.content >= 1.0 and w.unknown > 0)

    def query_terms(self, query: str) -> dict[str, float]:
        """Weighted index terms for a query (exposed for debugging)."""
        return self._analyse(query)[0]

    def _analyse(self, query: str) -> tuple[dict[str, float], list[_QueryWord]]:
        """The query's weighted index terms, and its words (see `_QueryWord`)."""
        terms: dict[str, float] = {}
        clean = client_words.normalise_phrases(ru_text.strip_noise(query))
        qwords: list[_QueryWord] = []
        for word in dict.fromkeys(ru_text.split_words(clean)):
            if word in ru_text.STOP_WORDS:
                continue
            own: dict[str, float] = {}
            self._word_terms(word, own)
            for term, weight in own.items():
                if weight > terms.get(term, 0.0):
                    terms[term] = weight
            best = max(own.values(), default=0.0)
            content = ru_text.content_weight(word)
            missing = content * max(0.0, 1 - best / WELL_MATCHED)
            mass = max((w * self.idf.get(t, 0.0) for t, w in own.items()), default=0.0)
            if mass or missing:
                qwords.append(_QueryWord(self._expand(own), mass,
                                         missing * UNKNOWN_WEIGHT * self.max_idf, content))
        return self._expand(terms), qwords

    def _expand(self, terms: dict[str, float]) -> dict[str, float]:
        """The terms with their synonyms and same-stem words of the entries, at lower weights."""
        out = dict(terms)
        for term, weight in terms.items():
            related = [(s, weight * SYNONYM_WEIGHT) for s in self.synonyms.get(term, ())
                       if s in self.vocab]
            related += [(s, weight * STEM_WEIGHT) for s in self._stem_siblings(term)]
            for other, w in related:
                if w > out.get(other, 0.0):
                    out[other] = w
        return out

    def _support(self, i: int, qwords: list[_QueryWord]) -> float:
        """Share of the query's words (idf-weighted, unknown ones included) that entry i has."""
        total = sum(w.mass + w.unknown for w in qwords)
        got = sum(min(w.mass, max((wt * self.idf[t] for t, wt in w.terms.items()
                                   if i in self.postings.get(t, ())), default=0.0))
                  for w in qwords)
        return got / total if total else 0.0

    def _word_terms(self, word: str, terms: dict[str, float]) -> None:
        """Index terms for one query word: its lemma, another reading, a typo guess, synonyms."""
        def add(term: str, weight: float) -> None:
            if weight > terms.get(term, 0.0):
                terms[term] = weight

        for lm in ru_text.lemma(word).split():
            if lm in ru_text.STOP_WORDS:
                continue
            weight = 0.5 if lm in ru_text.LIGHT_WORDS else 1.0
            alts = [a for a in ru_text.alt_lemmas(word) if a in self.vocab
                    and a not in ru_text.STOP_WORDS] if lm not in self.vocab else []
            if lm in self.vocab:
                add(lm, weight)
            elif word in self.vocab:
                add(word, weight)
            elif alts:  # another reading of the word is what the entries say
                for alt in alts:
                    add(alt, 0.9 * weight)
            else:
                known = ru_text.is_known(word)
                for form in dict.fromkeys((lm, word)):
                    match = self._fuzzy(form, known)
                    if match:
                        add(*match)
                        break
                for syn in self.synonyms.get(lm, ()):
                    if syn in self.vocab:
                        add(syn, 1.5 * SYNONYM_WEIGHT)
                for sibling in self._stem_siblings(lm):
                    add(sibling, 1.5 * STEM_WEIGHT)
                for latin in self.latin.get(client_words.skeleton(word), ()):
                    add(latin, FUZZY_WEIGHT)

    def _stem_siblings(self, term: str) -> set[str]:
        """Entry words of the same stem as `term`, with or without a verbal prefix."""
        keys = ru_text.stems(term)
        if not keys:
            return set()
        found = set(self.stem_index.get(keys[0], ()))
        for key in keys[1:]:  # prefixed query word: the bare root or another prefix
            found |= self.stem_index.get(key, set()) | self.stem_index.get("^" + key[1:], set())
        found |= self.stem_index.get("~" + term[:ru_text.STEM_LEN - 1], set())
        found.discard(term)
        return found
