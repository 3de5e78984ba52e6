"""What the offline brain tells existing students (what they own, until when, extensions)
and the offer granted to a client."""
from __future__ import annotations

from typing import Optional

from app.brain.contract import Decisions, PurchaseView, TurnContext
from app.brain.prompts.render import format_rub, kb_entry, ru_date
from app.knowledge.schema import Product


def access_phrase(p: PurchaseView, ctx: TurnContext) -> str:
    if p.access_until is None:
        return "бессрочный доступ"
    verb = "доступ до " if p.access_until > ctx.now else "доступ закончился "
    return verb + ru_date(p.access_until, ctx.card.timezone)


def purchases_text(ctx: TurnContext) -> str:
    items = [f"«{p.title}» ({access_phrase(p, ctx)})" for p in ctx.card.purchases]
    return "Вот что у вас есть в школе: " + ", ".join(items) + "."


def extension_lines(ctx: TurnContext) -> list[str]:
    """How each owned course with a limited access can be extended (price from the KB)."""
    lines = []
    for p in ctx.card.purchases:
        entry = kb_entry(ctx.kb, p.product_id)
        ext = entry.extension if isinstance(entry, Product) else None
        if p.access_until is not None and ext is not None:
            lines.append(f"Доступ к «{p.title}» можно продлить на {ext.days} дней за "
                         f"{format_rub(ext.price_rub)}.")
    return lines


def extension_text(ctx: TurnContext) -> list[str]:
    dated = sorted(((p.access_until, p) for p in ctx.card.purchases if p.access_until),
                   key=lambda dp: dp[0])
    if not dated:
        return ["Если захотите продолжить занятия, я подскажу, какой курс подойдёт дальше."]
    until, p = dated[0]
    verb = "заканчивается" if until > ctx.now else "закончился"
    out = [f"Напоминаю: доступ к курсу «{p.title}» {verb} {ru_date(until, ctx.card.timezone)}."]
    product = kb_entry(ctx.kb, p.product_id)
    ext = product.extension if isinstance(product, Product) else None
    if ext:
        out.append(f"Его можно продлить на {ext.days} дней за {format_rub(ext.price_rub)}.")
    out.append("Подсказать, как это сделать?" if ext else "Подсказать, как продолжить занятия?")
    return out


def offer_text(decisions: Decisions, tz: str) -> Optional[str]:
    o = decisions.offer
    if not o or not o.granted:
        return None
    if o.kind == "bonus":
        return f"И для вас есть подарок от школы: {o.title or 'бонус к покупке'}."
    until = f", она действует до {ru_date(o.expires_at, tz)}" if o.expires_at else ""
    return f"Для вас есть скидка {o.percent}% по промокоду {o.code}{until}."
