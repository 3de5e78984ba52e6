"""The offline follow-up after a silence: honest and grounded in the KB — what the client asked
about (from the KB), the free trial lessons if the KB has them, and one question about the
client's goal. Never «вы ещё думаете?», never a discount the policy did not grant."""
from __future__ import annotations

import re
from typing import Any, Optional

from app.brain.contract import TurnContext
from app.brain.offline.answers import already_sent, hits, product_line
from app.brain.prompts.render import clip, kb_entry

TRIAL_RE = re.compile(r"бесплатн|пробн", re.I)
HANDOVER_RE = re.compile(r"менеджер|коллег|напишите|свяжитесь|обратитесь", re.I)


def _last_client_text(ctx: TurnContext) -> str:
    return next((m.text for m in reversed(ctx.history) if m.direction == "in" and m.text), "")


def _product(ctx: TurnContext, text: str) -> Optional[Any]:
    for hit in hits(ctx, text, k=5):
        entry = kb_entry(ctx.kb, hit.id)
        if entry is not None and hasattr(entry, "price_rub"):
            return entry
    return None


def _trial(ctx: TurnContext) -> Optional[str]:
    for entry in ctx.kb.faq_entries if ctx.kb is not None else []:
        if TRIAL_RE.search(entry.question) and TRIAL_RE.search(entry.answer):
            # the FAQ answers a yes/no question: «Да. Первые три урока…» reads odd unasked; and
            # a follow-up offers, it does not promise a person («ссылку пришлёт менеджер»): staff
            # are called when the client says yes (issue 21's kept promises)
            answer = re.sub(r"^(?:да|нет)[.,!]\s*", "", str(entry.answer).strip(), flags=re.I)
            kept = [s for s in re.split(r"(?<=[.!?])\s+", answer) if not HANDOVER_RE.search(s)]
            return " ".join(kept) or None
    return None


def followup_lines(ctx: TurnContext) -> list[str]:
    """The body of the follow-up (the greeting is added by the caller)."""
    text = _last_client_text(ctx)
    out: list[str] = []
    product = _product(ctx, text) if text else None
    if product is not None:
        line = product_line(product)
        head = line.split(". ")[0].rstrip(".") + "."  # title, price, access: no summary
        out.append(f"Возвращаюсь к вашему вопросу о курсе «{product.title}»."
                   if already_sent(ctx, line) else f"Коротко о том, что вы спрашивали: {head}")
    trial = _trial(ctx)
    if trial and not already_sent(ctx, trial):
        out.append("Если хочется сначала попробовать: " + clip(trial, 300))
    if not ctx.card.goal:
        out.append("Подскажу, с чего удобнее начать: расскажите, для чего вам занятия — для "
                   "себя, для ребёнка или к какой-то цели?")
    else:
        out.append("Если остались вопросы о курсе, ответить на них здесь?")
    return out
