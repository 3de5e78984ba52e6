"""Warnings about a valid knowledge base: not errors (the file loads), but wording that makes
the assistant promise what the school's own rules do not give to everyone.

A product's text that offers a bonus as a plain gift («В подарок — сборник из 30 пьес») while
the offers section gives that bonus only under a condition (`offers.bonuses[].when`) that does
not cover this product reads to the model as an unconditional promise: the description and the
offer should agree.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from app.knowledge import ru_text

if TYPE_CHECKING:
    from app.knowledge.base import KnowledgeBase
    from app.knowledge.schema import Product

GIFT_RE = re.compile(r"в подарок|подарок|подарим|бонус\w*|бесплатн\w*|в придачу", re.I)
SENTENCE_RE = re.compile(r"(?<=[.!?…])\s+")
MIN_SHARED = 2  # content words a sentence shares with a bonus' title to be about that bonus
_GENERIC = frozenset(ru_text.lemmas("подарок бонус бесплатный курс покупка любой школа урок"))


def _words(text: str) -> set[str]:
    return {w for w in ru_text.lemmas(text) if len(w) > 2 and not w.isdigit()} - _GENERIC


_KIND_WORDS = {"course": "курс", "bundle": "комплект", "subscription": "подписк",
               "consultation": "консультац"}


def _covers(when: str, product: Product) -> bool:
    """The bonus' condition includes this product: «любого комплекта» for a bundle, or the
    product's own title («курса «Мастерство исполнения»»)."""
    kind = _KIND_WORDS.get(product.kind, "")
    if kind and re.search(rf"любо\w*\s+{kind}", when, re.I):
        return True
    title = _words(product.title)
    return bool(title) and len(title & _words(when)) >= min(2, len(title))


def bonus_warnings(kb: KnowledgeBase) -> list[str]:
    """`products[i].field: …` for each product sentence that gives away a conditional bonus."""
    bonuses = [(b, _words(b.title)) for b in kb.offers.bonuses]
    out: list[str] = []
    for i, p in enumerate(kb.products):
        fields = [("summary", p.summary or ""), ("description", p.description or "")]
        fields += [(f"includes[{j}]", x) for j, x in enumerate(p.includes)]
        for field, text in fields:
            for sentence in SENTENCE_RE.split(text):
                if not GIFT_RE.search(sentence):
                    continue
                mine = _words(sentence)
                for b, title in bonuses:
                    when = b.when.strip()
                    if when and len(mine & title) >= MIN_SHARED and not _covers(when, p):
                        out.append(
                            f"products[{i}].{field}: promises «{sentence.strip()[:80]}» as a gift, "
                            f"but offers.bonuses[{b.id}] is conditional ({when}); the assistant "
                            f"may promise it to everyone — make the two agree")
    return out
