"""What the offline brain suggests to a former student coming back: the next course after the
one they took (the next level of the same audience) and, when the KB has one, the extension of
the access to the course they took. The course taken comes from the card's purchases or, when
the card has none, from the client's own words («год назад проходил у вас курс с нуля»)."""
from __future__ import annotations

import re
from typing import Optional

from app.brain.contract import TurnContext
from app.brain.offline.answers import hits, product_line
from app.brain.offline.students import extension_lines
from app.brain.prompts.render import format_rub, kb_entry
from app.knowledge.schema import Product

LEVEL_ORDER = ("beginner", "intermediate", "advanced")
PAST_RE = re.compile(r"проходил|прош[её]л|прошла|закончил|окончил|занимал(?:ся|ась) у вас|"
                     r"учил(?:ся|ась) у вас|брал\w* у вас|купил\w* у вас", re.I)
OURS_RE = re.compile(r"у вас|ваш|курс", re.I)
COMEBACK_RE = re.compile(r"продолж|верну|возобнов|снова|дальше|следующ|посовету", re.I)


def for_kids(p: Product) -> bool:
    text = " ".join([p.id, p.title, *p.suits]).lower()
    return bool(re.search(r"kid|child|дет(?!ств)|ребён|ребен|школьник", text))


def taken_from_words(ctx: TurnContext, text: str) -> Optional[Product]:
    """The course the client says they took: the best course hit of that sentence."""
    past = PAST_RE.search(text)
    said = re.split(r"[.,;!?]", text[past.start():])[0] if past else ""
    if not OURS_RE.search(said):  # «закончил музыкальную школу» is not a course of ours
        return None
    found = [kb_entry(ctx.kb, h.id) for h in hits(ctx, said, k=10) if h.kind == "product"]
    return next((p for p in found if isinstance(p, Product) and p.kind == "course"), None)


def next_course(ctx: TurnContext, taken: Product) -> Optional[Product]:
    """A course of the next level for the same audience (children or adults), not owned."""
    if taken.level not in LEVEL_ORDER[:-1]:
        return None
    level = LEVEL_ORDER[LEVEL_ORDER.index(taken.level) + 1]
    owned = {p.product_id for p in ctx.card.purchases}
    products = ctx.kb.products if ctx.kb is not None else []
    return next((p for p in products if p.kind == "course" and p.level == level
                 and for_kids(p) == for_kids(taken) and p.id not in owned), None)


def _taken(ctx: TurnContext, text: str, stage: str) -> Optional[Product]:
    if ctx.card.purchases:
        if stage != "returning":
            return None
        owned = [kb_entry(ctx.kb, p.product_id) for p in ctx.card.purchases]
        courses = [p for p in owned if isinstance(p, Product) and p.level in LEVEL_ORDER]
        return max(courses, key=lambda p: LEVEL_ORDER.index(p.level), default=None)
    if not (PAST_RE.search(text) and COMEBACK_RE.search(text)):
        return None
    return taken_from_words(ctx, text)


def returning_lines(ctx: TurnContext, text: str, stage: str) -> list[str]:
    """The next course and the extension for a former student; [] for anyone else."""
    if ctx.kb is None:
        return []
    taken = _taken(ctx, text, stage)
    if taken is None:
        return []
    lines = ["Здорово, что вы возвращаетесь к занятиям!"]
    after = next_course(ctx, taken)
    if after is not None:
        lines.append(f"Следующая ступень после «{taken.title}»: {product_line(after)}")
    if ctx.card.purchases:
        lines += extension_lines(ctx)
    elif taken.extension is not None:
        ext = taken.extension
        lines.append(f"А если хочется сначала повторить пройденное, доступ к «{taken.title}» "
                     f"можно продлить на {ext.days} дней за {format_rub(ext.price_rub)}.")
    return lines if len(lines) > 1 else []
