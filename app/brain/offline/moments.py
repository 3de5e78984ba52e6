"""The offline brain's words for the hard moments: who needs support or a person, never a sale.

Anger, a refund and an access problem get an apology and a hand-over (no product, no discovery
question); a frustrated student gets support; a demanded discount gets a kind refusal and
another way; «вы бот?» gets the truth; a question about the assistant's own abilities (voice
notes, calls) is answered about the assistant. Deterministic; phrasing varies by turn.
"""
from __future__ import annotations

import re
from typing import Optional

from app.brain.contract import TurnContext
from app.brain.offline.rules import (
    ABOUT_CALL_RE,
    ABOUT_VOICE_RE,
    BOT_RE,
    BYE_RE,
    FRUSTRATION_RE,
    PROBLEM_RE,
    REFUND_RE,
    STUDENT_RE,
    THANKS_RE,
    THINK_RE,
)
from app.brain.promises import find_redirect
from app.brain.prompts import persona_name
from app.knowledge.schema import FaqEntry, Product
from app.platform.ru_format import format_rub

# the words around an access problem that make it the school's (not «синтезатор не работает»)
SCHOOL_THINGS_RE = re.compile(r"оплат|купил|кабинет|доступ|урок|видео|письм|платформ|курс|"
                              r"логин|парол|списал", re.I)
SUPPORT_RE = re.compile(r"доступ|кабинет|парол|почт|e-?mail|оплат|чек|сч[её]т|возврат|подписк|"
                        r"замороз|продл|сертификат|подар|видео|техническ|вход|логин|скача|"
                        r"перенос|документ|юрлиц", re.I)


def _pick(options: tuple[str, ...], turn_id: int) -> str:
    return options[turn_id % len(options)]


def access_problem(ctx: TurnContext, text: str) -> bool:
    return bool(PROBLEM_RE.search(text)) and bool(SCHOOL_THINGS_RE.search(text))


def frustrated_student(ctx: TurnContext, text: str) -> bool:
    return bool(FRUSTRATION_RE.search(text)) and bool(
        STUDENT_RE.search(text) or ctx.card.purchases)


def asks_about_assistant(text: str) -> bool:
    return "?" in text and bool(BOT_RE.search(text) or ABOUT_VOICE_RE.search(text)
                                or ABOUT_CALL_RE.search(text))


def goodbye(text: str) -> bool:
    return "?" not in text and bool(BYE_RE.search(text) or (
        THANKS_RE.search(text) and len(text) < 60 and not THINK_RE.search(text)))


def is_support_entry(entry: Optional[Product | FaqEntry]) -> bool:
    """An FAQ about access, payment, documents, a refund: asked by someone who needs help, not
    a lead to be questioned about their goals."""
    if not isinstance(entry, FaqEntry):
        return False
    words = " ".join([entry.question, *entry.tags])
    return bool(SUPPORT_RE.search(words))


def without_redirect_clause(sentence: str) -> str:
    """A KB sentence without its "write to the manager" clause («… — просто напишите
    менеджеру»); "" when the whole sentence is the redirect."""
    if find_redirect(sentence) is None:
        return sentence
    for sep in (" — ", ", ", "; "):
        head = sentence.split(sep)[0]
        if head != sentence and find_redirect(head) is None and len(head) > 20:
            return head.rstrip(" ,—") + "."
    return ""


def about_assistant(ctx: TurnContext, text: str) -> list[str]:
    name = persona_name()
    lines: list[str] = []
    if BOT_RE.search(text):
        lines.append(f"Честно: я {name}, виртуальный помощник школы — программа, а не живой "
                     "человек. Отвечаю на вопросы о занятиях и помогаю выбрать курс, а если "
                     "нужен человек — позову коллегу из команды школы.")
    if ABOUT_VOICE_RE.search(text):
        lines.append("Голосовые присылать можно: обычно я их прослушиваю и отвечаю текстом. "
                     "Если какое-то не получится разобрать, попрошу продублировать словами.")
    if ABOUT_CALL_RE.search(text):
        lines.append("Позвонить мне, к сожалению, не получится: я отвечаю только здесь, в "
                     "переписке. Если хотите поговорить с человеком — скажите, я передам "
                     "коллегам.")
    return lines + ["Чем могу помочь?"]


def support_student(ctx: TurnContext) -> list[str]:
    return [_pick(("Понимаю, как это обидно, — и это совсем не значит, что занятия не для вас.",
                   "Понимаю вас, это правда выматывает, — но это не значит, что у вас не "
                   "получится."), ctx.turn_id),
            "Почти у всех бывает момент, когда кажется, что ничего не движется: это нормальная "
            "часть пути, а не приговор.",
            "Попробуйте замедлиться и разбирать трудное место понемногу, по кусочку, но каждый "
            "день. И покажите преподавателю, что не получается, — он подскажет, что поправить.",
            "Что сейчас даётся труднее всего?"]


def installments(ctx: TurnContext) -> str:
    """The KB's sentence about paying in parts, or ""."""
    if ctx.kb_index is None or ctx.kb is None:
        return ""
    for h in ctx.kb_index.search("оплатить частями рассрочка", k=3):
        entry = ctx.kb.entry(h.id)
        answer = entry.answer if isinstance(entry, FaqEntry) else ""
        found = [x for x in re.split(r"(?<=[.!?])\s+", answer)
                 if re.search(r"частям|рассроч|долям", x, re.I) and not find_redirect(x)]
        if found:
            return found[0]
    return ""


def refuse_demand(ctx: TurnContext) -> list[str]:
    cap = ctx.kb.offers.max_discount_percent if ctx.kb is not None else None
    rule = f", и больше {cap}% не бывает" if cap else ""
    return [_pick((f"Промокод по запросу я, к сожалению, выдать не могу: скидки в школе "
                   f"действуют только по её правилам{rule}.",
                   "Понимаю, хочется дешевле, но выдать скидку или промокод по просьбе я не "
                   "могу — так в школе не делают ни для кого."), ctx.turn_id),
            installments(ctx) or "Если дело в сумме, расскажите, что вы выбираете, — "
                                 "подскажу вариант по силам.",
            "Какой курс вы присматриваете?"]


def rival(ctx: TurnContext, product: Optional[Product | FaqEntry]) -> list[str]:
    lines = ["Сравнивать — правильно. Про другие школы судить не возьмусь, а у нас так:"]
    if isinstance(product, Product):
        includes = "; ".join(product.includes[:3])
        lines.append(f"«{product.title}» — {format_rub(product.price_rub)}"
                     + (f": {includes}." if includes else "."))
    more = installments(ctx)
    return lines + ([more] if more else []) + ["Что для вас важнее всего в занятиях?"]


def price_blocker(ctx: TurnContext) -> list[str]:
    """A chosen product, the price is what stops: understanding and a way to pay (the program
    adds a discount only if it granted one)."""
    more = installments(ctx)
    return ["Понимаю, сразу такая сумма — ощутимо.",
            more or "Давайте подумаем, как сделать оплату удобнее.",
            "Как вам такой вариант?"]


def think_it_over(ctx: TurnContext) -> list[str]:
    return [_pick(("Конечно, подумайте спокойно — решение должно быть вашим.",
                   "Конечно, не торопитесь — такие решения лучше принимать спокойно."),
                  ctx.turn_id),
            "Если появятся вопросы, пишите в любое время, я на связи."]


def farewell(ctx: TurnContext, text: str) -> list[str]:
    if BYE_RE.search(text):
        return [_pick(("И вам всего доброго! Будем рады помочь, если появятся вопросы о "
                       "занятиях.", "Всего доброго! Если захотите вернуться к разговору о "
                       "занятиях — просто напишите."), ctx.turn_id)]
    return [_pick(("Всегда пожалуйста!", "Пожалуйста, обращайтесь!"), ctx.turn_id)]


def handover(ctx: TurnContext, kind: str, policy: str) -> list[str]:
    """An apology or a kind word by what happened, the KB's policy (without "write to the
    manager"), and the hand-over; no question and no sale."""
    lead = {
        "anger": _pick(("Простите, пожалуйста, что так вышло — понимаю, как это неприятно.",
                        "Мне очень жаль, что вы с этим столкнулись, простите."), ctx.turn_id),
        "payment_or_access": _pick(("Простите за неудобство — сейчас разберёмся.",
                                    "Извините, что так получилось, — давайте разберёмся."),
                                   ctx.turn_id),
        "refund": "Жаль, что курс вам не подошёл, — спасибо, что сказали прямо.",
        "human_request": "Конечно.",
    }.get(kind, "Понимаю вас.")
    policy = without_redirect_clause(policy) if kind != "human_request" else ""
    return [lead, policy, "Передаю ваш вопрос менеджеру школы — он ответит здесь же."]


def escalation_kind(ctx: TurnContext, text: str, angry: bool, human: bool) -> str:
    if angry:
        return "anger"
    if REFUND_RE.search(text):
        return "refund"
    if access_problem(ctx, text):
        return "payment_or_access"
    return "human_request" if human else ""
