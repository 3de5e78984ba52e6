"""What a knowledge base allows a reply to say about money, derived once per KB version.

Per product: its price and extension price, shares of them (instalments, a first payment),
multiples (months of a subscription) and KB percents of them (a standing discount, a saving).
Across products: sums and differences (a bundle against its courses). Plus every amount and
percent the KB's own texts state, and where it says "бесплатно".
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING, Any, Iterable, Optional

from app.knowledge import ru_text

if TYPE_CHECKING:
    from app.knowledge.base import KnowledgeBase

SPACE = "[ \u00a0\u202f]"
NUM = rf"\d{{1,3}}(?:{SPACE}\d{{3}})+(?![\d])|\d+(?:[.,]\d+)?"
AMOUNT_RE = re.compile(
    rf"(?<![\d.,\w-])({NUM}){SPACE}*(тыс(?:яч[аи]?)?\.?|к\b|k\b)?{SPACE}*"
    r"(₽|руб(?:л[а-яё]*|\.)?|р\.|rub\b)?", re.I)
PERCENT_RE = re.compile(rf"(?<![\d.,])(\d{{1,3}}(?:[.,]\d+)?){SPACE}*(%|процент\w*)", re.I)
SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?…])\s+(?=[^a-zа-яё])|\n+")
FREE_RE = re.compile(r"бесплатн\w*|даром|задаром", re.I)
SHARES = range(2, 13)
GENERIC = frozenset(ru_text.lemmas(
    "курс курсы школа урок уроки занятие доступ вы ваш для можно есть быть весь любой наш "
    "стоимость цена рубль бесплатно бесплатный подарок скидка процент это"))


def content_lemmas(text: str) -> frozenset[str]:
    """Lemmas that say what a sentence is about: no generic school words, no numbers."""
    return frozenset(w for w in ru_text.lemmas(text) if not w.isdigit()) - GENERIC


def num(raw: str) -> float:
    return float(re.sub(r"[ \u00a0\u202f]", "", raw).replace(",", "."))


def sentences(text: str) -> list[str]:
    return [s for s in SENTENCE_SPLIT_RE.split(text or "") if s.strip()]


def stated_amounts(text: str) -> set[float]:
    out: set[float] = set()
    for number, thousands, currency in AMOUNT_RE.findall(text):
        if thousands or currency:
            out.add(num(number) * (1000 if thousands else 1))
    # "40–70 тысяч рублей": the first end of a range shares the second's unit
    for m in re.finditer(rf"(\d+){SPACE}*[–—-]{SPACE}*\d+{SPACE}*тыс", text):
        out.add(num(m.group(1)) * 1000)
    return out


def _title_variants(title: str) -> list[str]:
    clean = re.sub(r"[«»\"“”„()]", " ", title)
    short = re.split(r"\s*[:—–(]\s*|\s+-\s+", title)[0]
    short = re.sub(r"[«»\"“”„]", " ", short)
    out = [clean]
    if short.strip() != clean.strip() and len(ru_text.words(short)) >= 2:
        out.append(short)
    return out


def mention_regex(title: str) -> re.Pattern[str]:
    """A product's title in any case form: each word by its stem, punctuation between."""
    alts = []
    for variant in _title_variants(title):
        parts = []
        for w in ru_text.words(variant):
            stem = w if len(w) <= 3 or w.isdigit() else w[:max(3, len(w) - 2)]
            parts.append(re.escape(stem) + ("" if w.isdigit() else r"[a-zа-яё]*"))
        if parts:
            alts.append(r"[\W_]+".join(parts))
    return re.compile(r"(?<![a-zа-яё])(?:" + "|".join(alts) + ")", re.I)


@dataclass
class ProductMoney:
    id: str
    mention: re.Pattern[str]
    own: set[float]
    derived: set[float] = field(default_factory=set)
    price: float = 0.0
    extension: Optional[float] = None
    # distinctive lemmas of the title («акварель», «скетчинг»): a short name in a comparison
    aliases: frozenset[str] = frozenset()
    parts_sum: Optional[float] = None  # a bundle: the prices of the products it includes


@dataclass
class KbMoney:
    products: list[ProductMoney]
    percents: set[float]  # percents stated anywhere in the KB (texts and offers)
    # amounts stated in the KB's texts (FAQ, descriptions), each with the lemmas of its sentence
    text_amounts: list[tuple[float, frozenset[str]]]
    combos: set[float]  # sums and differences of product prices
    free_lemmas: list[frozenset[str]]  # KB sentences that say "бесплатно", as lemma sets
    tokens: frozenset[str]  # upper-case latin/cyrillic tokens of the KB (models, formats)
    cap: int = 20
    quoted: str = ""  # the KB's texts, normalised (`quote_form`): a sentence found here is the KB's

    def states(self, sentence: str) -> bool:
        """The sentence is the KB's own words (quoted, up to spacing and case)."""
        form = quote_form(sentence)
        return len(form) >= 20 and form in self.quoted

    def derive(self, base: Iterable[float], percents: Iterable[float],
               multiples: bool = True) -> set[float]:
        out: set[float] = set()
        pcts = set(percents) | self.percents
        for x in base:
            out.add(x)
            out |= {x / n for n in SHARES} | ({x * n for n in SHARES} if multiples else set())
            out |= {x * (100 - q) / 100 for q in pcts} | {x * q / 100 for q in pcts}
        return out


def _texts(kb: KnowledgeBase) -> list[str]:
    out: list[str] = []
    for p in kb.products:
        out += [p.title, p.summary or "", p.description or "", *p.includes, *p.suits]
    for f in kb.faq_entries:
        out += [f.question, f.answer, *f.alt_questions]
    offers = kb.offers
    for b in (offers.bonuses if offers is not None else None) or []:
        out.append(b.title)
    return out


_CACHE: dict[int, tuple[Any, KbMoney]] = {}


def quote_form(text: str) -> str:
    """Case, «ё», spacing (also inside numbers: «2 900» = «2900») and end punctuation ignored."""
    text = re.sub(r"(?<=\d)[ \u00a0\u202f](?=\d{3}\b)", "", text.lower().replace("ё", "е"))
    return " ".join(text.split()).strip(" .,;:!?…")


def kb_money(kb: KnowledgeBase) -> KbMoney:
    """The money facts of one KB version (memoised: a reload builds a new KB object)."""
    hit = _CACHE.get(id(kb))
    if hit is not None and hit[0] is kb:
        return hit[1]
    texts = _texts(kb)
    joined = "\n".join(texts)
    offers = kb.offers
    percents = {num(m.group(1)) for m in PERCENT_RE.finditer(joined)}
    percents |= {float(d.percent) for d in (offers.discounts if offers is not None else None) or []}
    prices = sorted({float(p.price_rub) for p in kb.products})
    # sums of up to three prices and multiples of one («4 разовые по 2 500 ₽ — 10 000 ₽»), and
    # their differences with a price («пакет на 1 100 ₽ дешевле»)
    base = set(prices) | {p * n for p in prices for n in SHARES}
    base |= {sum(g) for r in (2, 3) for g in combinations(prices, r)}
    combos = base | {abs(s - p) for s in base for p in prices}
    free = [content_lemmas(s) for t in texts for s in sentences(t) if FREE_RE.search(s)]
    tokens = frozenset(t.upper() for t in re.findall(r"[A-Za-zА-ЯЁа-яё0-9]+(?:-[A-Za-z0-9]+)*",
                                                    joined) if re.search(r"\d|[A-Z]{2}", t))
    stated = [(value, content_lemmas(s)) for t in texts for s in sentences(t)
              for value in stated_amounts(s)]
    money = KbMoney(products=[], percents=percents, text_amounts=stated, combos=combos,
                    free_lemmas=free, tokens=tokens,
                    cap=int((offers.max_discount_percent if offers is not None else 20) or 20),
                    quoted="\n".join(quote_form(t) for t in texts))
    title_lemmas = {p.id: content_lemmas(p.title) for p in kb.products}
    for p in kb.products:
        own = {float(p.price_rub)}
        if p.extension:
            own.add(float(p.extension.price_rub))
        others = set().union(*(v for k, v in title_lemmas.items() if k != p.id))
        aliases = frozenset(w for w in title_lemmas[p.id] - others
                            if len(w) >= 5 and re.fullmatch(r"[а-яё]+|[a-z]+", w))
        money.products.append(ProductMoney(
            p.id, mention_regex(p.title), own, price=float(p.price_rub),
            extension=float(p.extension.price_rub) if p.extension else None, aliases=aliases))
    for pm, p in zip(money.products, kb.products, strict=True):
        parts = [o for o in money.products if o is not pm and any(
            o.mention.search(ru_text.fold(item)) for item in p.includes)]
        if p.kind == "bundle" and len(parts) >= 2:
            pm.parts_sum = sum(o.price for o in parts)
    if len(_CACHE) >= 8:
        _CACHE.clear()
    _CACHE[id(kb)] = (kb, money)
    return money
