"""How the offline brain answers a question from the KB, honestly.

An entry answers only when the search is confident: it covers enough of the question and clearly
beats the runner-up. Otherwise the brain asks one clarifying question (naming the two closest
entries) or says warmly that it will ask a colleague. It never repeats a product list already
sent in the dialog and never lists products to someone who is "just looking".
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Optional

from app.brain.contract import TurnContext
from app.brain.offline.asks import generic_only, joined_asks, sentences
from app.knowledge.schema import FaqEntry
from app.platform.ru_format import format_rub
from app.platform.vocabulary import TurnFlag

if TYPE_CHECKING:
    from app.knowledge.base import KnowledgeBase
    from app.knowledge.schema import Product
    from app.knowledge.search import Hit

# Confidence is judged on `Hit.support`: the share of the question the entry matches, where the
# question's words that the KB never uses count as unmatched («билеты в филармонию» is not a
# question about paying just because «купить» matches).
MIN_SUPPORT = 0.3  # share of the question the top entry matches...
MIN_MARGIN = 1.2  # ...with this lead over the runner-up
SURE_SUPPORT = 0.5  # ...or a clearly fuller match with a smaller lead
SURE_MARGIN = 1.1
CLEAR_SUPPORT = 0.2  # ...or far ahead of the runner-up with a thinner match
CLEAR_MARGIN = 2.0
LONE_SUPPORT = 0.4  # a lone hit (no other entry shares a word with the question): no lead to judge
MAX_ANSWERS = 2
BROWSING_RE = re.compile(
    r"просто (?:смотр|гляж|интерес|изуча|чита|присматр)|пока (?:просто )?(?:смотр|присматр|"
    r"ничего|думаю)|присматрива|ничего не (?:нужно|надо|ищу)|я просто так|без цели", re.I)


def hits(ctx: TurnContext, text: str, k: int = 3) -> list[Hit]:
    if ctx.kb_index is None or not text.strip():
        return []
    return ctx.kb_index.search(text, k=k)


def _kb(ctx: TurnContext) -> KnowledgeBase:
    """The KB of a turn whose search found something (the index is built from that KB)."""
    assert ctx.kb is not None
    return ctx.kb


def confident(found: list[Hit]) -> Optional[Hit]:
    """The top hit when the search is sure of it, else None."""
    if not found:
        return None
    top = found[0]
    support = top.support
    if len(found) == 1 or found[1].score <= 0:
        return top if support >= LONE_SUPPORT else None
    margin = top.score / found[1].score
    if (support >= MIN_SUPPORT and margin >= MIN_MARGIN) or \
            (support >= SURE_SUPPORT and margin >= SURE_MARGIN) or \
            (support >= CLEAR_SUPPORT and margin >= CLEAR_MARGIN):
        return top
    return None


def answered_ids(ctx: TurnContext, text: str, buying: bool = False) -> list[str]:
    """Confident entries for the whole message, then for each of its asks (a client often asks
    two things at once), without repeats; one per ask, at most MAX_ANSWERS (a single question
    gets a single entry, not a look-alike second). When the client wants to
    buy, an FAQ found only through look-alike words («записаться» → «запись») does not count.
    Generic asks about a topic the KB does not have are not answered (see offline_asks)."""
    ids: list[str] = []
    unknown = unknown_subject(ctx, text)
    parts = [] if unknown else [text]
    for question in sentences(text):
        parts += [question] if question != text.strip() else []
    for part in parts:
        if unknown and generic_only(part):
            continue
        top = confident(hits(ctx, part))
        if top is not None and buying and top.kind == "faq" and top.exact == 0:
            continue
        if top is not None and foreign_subject(ctx, part, top):
            continue
        if top is not None and top.id not in ids:
            ids.append(top.id)
    if not unknown:
        ids += [i for i in covering_pair(ctx, text) if i not in ids]
    # one KB entry per ask: a single question gets a single entry, never a look-alike second
    limit = sum(len(joined_asks(q)) or 1 for q in sentences(text)) or 1
    said = number_entry(ctx, text) if ids else None
    if said is not None:  # the entry about the client's own number answers first
        limit += said not in ids
        ids = [said] + [i for i in ids if i != said]
    return ids[:min(MAX_ANSWERS, limit)]


FOREIGN_NOUNS = 2  # nouns the KB does not know that make a thin match a different subject
FOREIGN_SUPPORT = 0.6


def foreign_subject(ctx: TurnContext, text: str, top: Hit) -> bool:
    """A thin match for a question about something else («настройщик в Казани» is not «какое
    пианино купить» though both say «пианино»): an honest hand-over, not an unrelated entry."""
    return (ctx.kb_index is not None and top.support < FOREIGN_SUPPORT
            and ctx.kb_index.foreign_nouns(text) >= FOREIGN_NOUNS)


NUMBER_RE = re.compile(r"(?<![\w.,])(\d{1,3})\s+([а-яё]{3,})", re.I)  # «61 клавишу», «16 лет»
NUMBER_SHARE = 0.35  # the entry naming the client's number scores at least this share of the top


def names_number(entry: Optional[Product | FaqEntry], number: str, unit: str) -> bool:
    """True when a sentence of the entry has the number and a word of the same stem as the
    client's unit («61 клавиши» for «61 клавишу»), not just the digits («3–4 недели»)."""
    words = " ".join([entry.question, entry.answer]) if isinstance(entry, FaqEntry) else " "
    for sentence in re.split(r"(?<=[.!?])\s+", words):
        if number in re.findall(r"(?<![\w.,])\d+(?!\d)", sentence) and \
                re.search(r"\b" + re.escape(unit[:4].lower()), sentence.lower()):
            return True
    return False


def number_entry(ctx: TurnContext, text: str) -> Optional[str]:
    """A close entry that speaks about the number the client said («синтезатор на 61
    клавишу» → the entry about 61 keys), or None."""
    said = NUMBER_RE.findall(text)
    found = hits(ctx, text) if said else []
    for h in found:
        if h.score >= NUMBER_SHARE * found[0].score and h.support >= CLEAR_SUPPORT and \
                any(names_number(_kb(ctx).entry(h.id), n, u) for n, u in said):
            return h.id
    return None


def covering_pair(ctx: TurnContext, text: str) -> list[str]:
    """The two closest entries of a one-question message asking two things joined by «и»,
    when each ask finds one of them: together they answer it, no need to ask which."""
    questions = sentences(text)
    asks = joined_asks(questions[0]) if len(questions) == 1 else []
    if len(asks) != 2:
        return []
    pair = [h.id for h in hits(ctx, questions[0])[:2]]
    tops = [confident(hits(ctx, a)) for a in asks]
    found = [t.id for t in tops if t is not None]
    return found if len(pair) == 2 and sorted(found) == sorted(pair) else []


def unknown_subject(ctx: TurnContext, text: str) -> bool:
    """A message whose generic ask («сколько стоит?») is about a question the KB cannot
    answer («у вас есть летний лагерь?»)."""
    asks = [a for q in sentences(text) for a in (joined_asks(q) or [q])]
    if not any(generic_only(a) for a in asks):
        return False
    return any(confident(hits(ctx, a)) is None for a in asks if not generic_only(a))


KB_NO_MATCH = TurnFlag.KB_NO_MATCH  # a question the rules found no confident KB entry for (reports)


def kb_no_match(ctx: TurnContext) -> bool:
    """A client's question for which the rules found no confident KB entry."""
    text = ctx.words if ctx.kind == "reply" else ""
    if "?" not in text or ctx.kb_index is None:
        return False
    return not answered_ids(ctx, text)


def policy_sentence(ctx: TurnContext, text: str) -> str:
    """The opening of the FAQ answer that confidently matches (a refund's terms) for a reply
    that hands the client over to a person; "" when none does."""
    faq = [_kb(ctx).entry(i) for i in answered_ids(ctx, text)]
    answer = next((e.answer for e in faq if isinstance(e, FaqEntry)), "")
    sentences = [x for x in re.split(r"(?<=[.!?])\s+", answer) if x.strip()]
    if len(sentences) > 1 and sentences[0].strip().lower() == "да.":
        sentences = sentences[1:]  # a bare «Да.» answers a question the client did not ask
    return sentences[0] if sentences else ""


def product_line(p: Product) -> str:
    access = f"доступ на {p.access_days} дней" if p.access_days else "бессрочный доступ"
    return f"«{p.title}» — {format_rub(p.price_rub)}, {access}. {p.summary}"


def entry_answer(entry: Product | FaqEntry) -> str:
    return entry.answer if hasattr(entry, "answer") else product_line(entry)


def already_sent(ctx: TurnContext, text: str) -> bool:
    """True when a bot message of this dialog already said `text` (a product line)."""
    head = text[:80]
    return any(m.direction == "out" and head in (m.text or "") for m in ctx.history)


def clarifying_question(ctx: TurnContext, text: str) -> Optional[str]:
    """One question naming the two closest entries, when the search hesitates between them."""
    found = hits(ctx, text)
    if len(found) < 2 or found[0].coverage < 0.25:
        return None
    if foreign_subject(ctx, text, found[0]):  # neither entry is about what was asked
        return None
    assert ctx.kb_index is not None  # the search found entries
    own_words = [t for t, w in ctx.kb_index.query_terms(text).items() if w >= 1.0]
    if len(own_words) < 2:  # «где же человек?»: too little to choose between entries
        return None
    if len(found) > 2 and found[1].score < 1.15 * found[2].score:
        return None  # not two candidates but many: a general question
    names = []
    for h in found[:2]:
        entry = _kb(ctx).entry(h.id)
        assert entry is not None, h.id  # the index is built from this KB
        name = entry.question.rstrip("?") if isinstance(entry, FaqEntry) else entry.title
        names.append("«" + re.sub(r"[«»]", "", name) + "»")
    return f"Уточните, пожалуйста, что вам ближе: {names[0]} или {names[1]}?"


def is_browsing(text: str) -> bool:
    return bool(BROWSING_RE.search(text))


REPEAT_ALTERNATIVES = (
    "Ваш вопрос уже у коллег из школы — они ответят здесь же. А пока могу рассказать, как "
    "проходят занятия или с чего лучше начать. Что вам интереснее?",
    "Коллеги уже в курсе и ответят в этом диалоге. Если хотите, напишите, что для вас сейчас "
    "важнее всего, — подскажу, что смогу.",
    "Спасибо за терпение! Я на связи, а коллеги из школы ответят здесь же.",
)


def not_repeated(ctx: TurnContext, reply: str) -> str:
    """The reply, or another wording when this dialog has already been sent exactly it."""
    sent = {(m.text or "").strip() for m in ctx.history if m.direction == "out"}
    if reply not in sent:
        return reply
    return next((alt for alt in REPEAT_ALTERNATIVES if alt not in sent), reply)
