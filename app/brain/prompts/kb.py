"""The knowledge-base part of the prompts: passages, the whole KB block, the catalogue.

When the rendered KB fits the token budget (KB_CONTEXT_TOKEN_BUDGET) both stages get it whole,
as the first block of the request; over the budget, search picks the passages.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Optional

from app.brain.contract import TurnContext
from app.knowledge.schema import Product
from app.platform.ru_format import clip, format_rub

if TYPE_CHECKING:
    from app.knowledge.base import KnowledgeBase
    from app.knowledge.schema import FaqEntry

KB_MAX_PASSAGES = 8
KB_SEARCH_K = 6
KB_PASSAGE_CHARS = 1500
KB_CHARS = 9000
DEFAULT_KB_TOKEN_BUDGET = 200_000
CHARS_PER_TOKEN = 3  # conservative for Russian text (Gemini averages ~3.5-4)
CATALOGUE_CHARS = 1500

_LEVELS = {"beginner": "с нуля / начинающий", "intermediate": "средний",
           "advanced": "продвинутый", "any": "любой"}


def kb_entry(kb: Optional[KnowledgeBase], entry_id: str) -> Optional[Product | FaqEntry]:
    """A product or FAQ entry of the knowledge base, or None."""
    return kb.entry(entry_id) if kb is not None else None


def is_product(entry: Optional[Product | FaqEntry]) -> bool:
    return isinstance(entry, Product)


def entry_text(entry: Product | FaqEntry) -> str:
    """The client-facing text of an entry, as a passage gives it (for guardrails too)."""
    return render_product(entry) if isinstance(entry, Product) else render_faq(entry)


def render_product(p: Product) -> str:
    days = p.access_days
    access = f"доступ {days} дней" if days else "бессрочный доступ"
    lines = [f"[{p.id}] Продукт «{p.title}» — {format_rub(p.price_rub)}, "
             f"{access}, уровень: {_LEVELS.get(p.level, p.level)}."]
    ext = p.extension
    if ext:
        lines.append(f"Продление доступа: {format_rub(ext.price_rub)} "
                     f"за {ext.days} дней.")
    lines.append(p.summary or "")
    if p.description:
        lines.append("Подробно: " + p.description)
    if p.includes:
        lines.append("Входит: " + "; ".join(p.includes))
    if p.suits:
        lines.append("Подходит: " + "; ".join(p.suits))
    if p.url:
        lines.append(f"Ссылка: {p.url}")
    return "\n".join(x for x in lines if x)


def render_faq(f: FaqEntry) -> str:
    return f"[{f.id}] Вопрос: {f.question}\nОтвет: {f.answer}"


def search_ids(ctx: TurnContext, query: str, k: int = 3) -> list[str]:
    if ctx.kb_index is None or not query.strip():
        return []
    return [h.id for h in ctx.kb_index.search(query, k=k)]


def kb_ids_for(ctx: TurnContext, extra: Iterable[str] = ()) -> list[str]:
    query = ctx.words or ctx.reminder_context or ""
    ids = list(extra) + search_ids(ctx, clip(query, 1000), KB_SEARCH_K)
    if ctx.kind == "access_extension":
        ids = [p.product_id for p in ctx.card.purchases] + ids
    out: list[str] = []
    for i in ids:
        if i not in out and kb_entry(ctx.kb, i) is not None:
            out.append(i)
    return out[:KB_MAX_PASSAGES]


def render_kb(ctx: TurnContext, ids: list[str]) -> str:
    parts: list[str] = []
    used = 0
    for i in ids:
        entry = kb_entry(ctx.kb, i)
        assert entry is not None, i  # the ids come from kb_ids_for: entries of this KB
        text = clip(entry_text(entry), KB_PASSAGE_CHARS)
        if used + len(text) > KB_CHARS:
            break
        parts.append(text)
        used += len(text)
    return "\n\n".join(parts) or "(подходящих записей не найдено)"


def estimate_tokens(text: str) -> int:
    return len(text) // CHARS_PER_TOKEN + 1


_WHOLE: dict[int, tuple[Any, str]] = {}


def render_whole_kb(kb: KnowledgeBase) -> str:
    """Every product and FAQ entry, in file order: byte-identical for one KB version."""
    cached = _WHOLE.get(id(kb))
    if cached is not None and cached[0] is kb:
        return cached[1]
    school = kb.school
    head = [f"Школа: {school.name}"] if school is not None else []
    if school is not None and school.manager_contact:
        head.append(f"Связь с менеджером: {school.manager_contact}")
    denied = list(kb.not_offered)
    if denied:
        head.append("Школа НЕ предлагает и НЕ делает: " + "; ".join(denied))
    body = [render_product(p) for p in kb.products] + [render_faq(f) for f in kb.faq_entries]
    text = "\n\n".join(["\n".join(head), *body]).strip()
    if len(_WHOLE) >= 8:
        _WHOLE.clear()
    _WHOLE[id(kb)] = (kb, text)
    return text


def whole_kb_fits(kb: Optional[KnowledgeBase], kb_budget: int) -> bool:
    return kb is not None and kb_budget > 0 and estimate_tokens(render_whole_kb(kb)) <= kb_budget


def kb_head(kb: Optional[KnowledgeBase], kb_budget: int) -> list[str]:
    """The stable leading block (whole KB) when it fits the budget, else nothing."""
    if kb is None or not whole_kb_fits(kb, kb_budget):
        return []
    return ["<база_знаний> (вся база знаний школы; отвечай только по ней)\n"
            + render_whole_kb(kb) + "\n</база_знаний>"]


def render_catalogue(kb: Optional[KnowledgeBase]) -> str:
    lines = [f"[{p.id}] «{p.title}» — {format_rub(p.price_rub)}, "
             f"уровень: {_LEVELS.get(p.level, p.level)}"
             for p in (kb.products if kb is not None else [])]
    return clip("\n".join(lines), CATALOGUE_CHARS)


def render_offers(kb: Optional[KnowledgeBase]) -> str:
    """Discounts and bonuses the analysis may request by id (only the analysis sees them: the
    program decides, and the reply mentions only what it granted)."""
    offers = kb.offers if kb is not None else None
    lines = [f"[{d.id}] скидка {d.percent}% на {d.valid_days} дн.: {d.when}"
             for d in (offers.discounts if offers is not None else None) or []]
    lines += [f"[{b.id}] бонус «{b.title}»: {b.when}"
              for b in (offers.bonuses if offers is not None else None) or []]
    return "<предложения_школы> (запрашивать по id; решает программа)\n" + (
        "\n".join(lines) or "(нет)") + "\n</предложения_школы>"
