"""Rule-based provider of both stages: used without GEMINI_API_KEY and when Gemini is down.

Deterministic: the same turn gives the same answer; phrasing varies by turn_id.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable, Optional, Sequence, cast

from app.brain.analysis import Analysis, Escalation, Facts, FollowUp, FunnelStage, Known, OfferRequest
from app.brain.contract import Decisions, StageResult, TurnContext, Usage
from app.brain.demands import demands_discount
from app.brain.guardrails import mention_regex
from app.brain.offline import media as offline_media
from app.brain.offline import moments
from app.brain.offline.answers import (  # noqa: F401 (KB_NO_MATCH is imported from here)
    KB_NO_MATCH,
    already_sent,
    answered_ids,
    clarifying_question,
    confident,
    entry_answer,
    foreign_subject,
    is_browsing,
    kb_no_match,
    not_repeated,
    policy_sentence,
    product_line,
    unknown_subject,
)
from app.brain.offline.answers import (
    hits as _hits,
)
from app.brain.offline.followups import followup_lines
from app.brain.offline.returning import for_kids, returning_lines
from app.brain.offline.rules import (
    ACCESS_RE,
    AGE_RE,
    ANGER_RE,
    BOT_RE,
    CONTACT_RE,
    EMAIL_RE,
    EXTEND_RE,
    GOALS,
    GREETING_RE,
    HOT_RE,
    HUMAN_RE,
    INSTRUMENT_RE,
    LEVELS,
    NAME_RE,
    OBJECTIONS,
    PAY_RE,
    PHONE_RE,
    RIVAL_RE,
    STOP_RE,
    THANKS_RE,
    THINK_RE,
    VAGUE_RE,
    WARM_RE,
)
from app.brain.offline.students import (
    extension_lines,
    extension_text,
    offer_text,
    purchases_text,
)
from app.brain.prompts import persona_name
from app.brain.prompts.render import clip, kb_entry, local, ru_moment
from app.knowledge.schema import Product

if TYPE_CHECKING:
    from app.knowledge.search import Hit

# The reminders' time resolver, handed in by the composition (the brain imports no other package).
TimeResolver = Callable[[str, datetime, str], Optional[datetime]]


def pick(options: Sequence[str], turn_id: int, salt: int = 0) -> str:
    return options[(turn_id + salt) % len(options)]


def _first(rules: Sequence[tuple[str, str]], text: str) -> Optional[str]:
    return next((value for value, pattern in rules if re.search(pattern, text, re.I)), None)


def extract_facts(text: str) -> Facts:
    age = AGE_RE.search(text)
    years = int(age.group(1)) if age else None
    goal = _first(GOALS, text)
    age_group = ("ребёнок" if goal == "обучение ребёнка" else None) if years is None else (
        "до 18" if years < 18 else "18–44" if years < 45 else "45–59" if years < 60 else "60+")
    name, email = NAME_RE.search(text), EMAIL_RE.search(text)
    phone, instrument = PHONE_RE.search(text), INSTRUMENT_RE.search(text)
    return Facts(name=name.group(1).capitalize() if name else None,
                 email=email.group(0) if email else None,
                 phone=re.sub(r"[^\d+]", "", phone.group(0)) if phone else None,
                 level=_first(LEVELS, text), goal=goal, age_group=age_group,
                 instrument=instrument.group(1).lower() if instrument else None,
                 objections=[v for v, p in OBJECTIONS if re.search(p, text, re.I)])


def funnel_stage(ctx: TurnContext, text: str) -> str:
    if ctx.card.purchases:
        active = any(p.access_until is None or p.access_until > ctx.now for p in ctx.card.purchases)
        return "client" if active else "returning"
    if PAY_RE.search(text):  # hot: a chosen product and a question of how or when to pay
        return "hot"
    if HOT_RE.search(text) or WARM_RE.search(text):  # a price question alone is warm
        return "warm"
    return ctx.card.funnel_stage if ctx.card.funnel_stage in ("warm", "hot") else "cold"


def detect_follow_up(text: str, now: datetime, tz: str,
                     resolve: Optional[TimeResolver] = None) -> FollowUp:
    if STOP_RE.search(text):
        return FollowUp(cancel_all=True, note="клиент попросил больше не писать")
    if not (CONTACT_RE.search(text) or VAGUE_RE.search(text)):
        return FollowUp()
    for sentence in re.split(r"(?<=[.!?\n])\s*", text):
        if sentence.strip() and resolve is not None and resolve(sentence, now, tz) is not None:
            return FollowUp(agreed=True, text=clip(sentence, 300), note="клиент попросил написать позже")
    if VAGUE_RE.search(text):
        return FollowUp(agreed=True, is_vague=True, text=clip(text, 300),
                        note="клиент согласился продолжить позже, время не назвал")
    return FollowUp()


PRICE_BLOCKER_RE = re.compile(r"дорог|нет (?:всей )?(?:суммы|денег)|не потяну|не по карману|"
                              r"великоват", re.I)


def chosen_product(ctx: TurnContext, text: str) -> Optional[str]:
    """The product the client names (a confident product hit), or None."""
    low = text.lower().replace("ё", "е")
    named: list[str] = [p.id for p in (ctx.kb.products if ctx.kb is not None else [])
                        if mention_regex(p.title).search(low)]
    quoted = [q.strip().lower() for q in re.findall(r"«([^»]{4,})»", text)]
    named += [p.id for p in (ctx.kb.products if ctx.kb is not None else [])
              if any(q in p.title.lower() for q in quoted)]
    said = {int(re.sub(r"\s", "", n)) for n in re.findall(r"\d{1,3}(?:[ \u00a0]\d{3})+|\d{4,6}", text)}
    named += [p.id for p in (ctx.kb.products if ctx.kb is not None else []) if p.price_rub in said]
    if named:
        return named[0]
    top = confident(_hits(ctx, text))
    return top.id if top is not None and top.kind == "product" else None


def _offer(ctx: TurnContext, stage: str, text: str) -> Optional[OfferRequest]:
    """Only for a chosen product whose price is the blocker; never on a demand (a discount is
    not a prize for insisting) and never for a mere question about discounts."""
    if ctx.kb is None or demands_discount(text) or not PRICE_BLOCKER_RE.search(text):
        return None
    product = chosen_product(ctx, text)
    if product is None:
        return None
    wanted = {"client": "next-level", "returning": "comeback"}.get(stage, "first-purchase")
    ids = {d.id for d in ctx.kb.offers.discounts}
    return OfferRequest(offer_id=wanted, product_id=product,
                        reason="выбран продукт, мешает цена") if wanted in ids else None


def conversation_step(ctx: TurnContext, text: str, stage: str, escalated: bool,
                      follow_up: FollowUp) -> str:
    if follow_up.cancel_all or moments.goodbye(text):
        return "завершение"
    if ctx.card.purchases or escalated or moments.frustrated_student(ctx, text):
        return "поддержка ученика"
    if stage == "hot" and re.search(r"оплат|купить|куплю|беру|оформ", text, re.I):
        return "оформление"
    if PRICE_BLOCKER_RE.search(text) or THINK_RE.search(text) or any(
            re.search(p, text, re.I) for _, p in OBJECTIONS):
        return "сомнение"
    if stage in ("warm", "hot"):
        return "подбор"
    return "знакомство"


COURSE_ASK_RE = re.compile(r"как\w* курс|с чего (?:начать|начинать)|что (?:посоветуете|выбрать)|"
                           r"сколько сто|цен[аыу]\b|подбер|подойд[её]т ли|какие (?:есть )?курс|"
                           r"хочу (?:записаться|купить|научиться)", re.I)


CALL_PERSON_RE = re.compile(r"позов|позвать|соедин|переключ|дайте|хочу (?:поговорить|с человек)|"
                            r"нуж(?:ен|но) (?:живой )?человек|менеджер|оператор|администратор",
                            re.I)


def wants_a_person(text: str) -> bool:
    """«Позовите человека» — but «вы бот или живой человек?» asks about the assistant."""
    if BOT_RE.search(text):
        return bool(CALL_PERSON_RE.search(text))
    return bool(HUMAN_RE.search(text))


PRODUCT_SHARE = 0.85  # a product hit counts when it scores this share of the top hit
PAY_HISTORY = 8  # how many earlier messages may name the product the client wants to pay for


def _named_product(ctx: TurnContext, text: str) -> Optional[str]:
    low = text.lower().replace("ё", "е")
    products: list[Product] = ctx.kb.products if ctx.kb is not None else []
    for p in products:
        if p.title.lower().replace("ё", "е") in low:
            return p.id
    return None


def product_to_pay(ctx: TurnContext, text: str) -> Optional[str]:
    """The product a client who asks to pay has chosen: named now (by title, or as the search's
    sure product hit), else the latest one named in the dialog, else the one a granted
    discount is for. None when unclear (no link is made; the reply asks)."""
    if ctx.kb is None or not PAY_RE.search(text) or EXTEND_RE.search(text):
        return None
    named = _named_product(ctx, text)
    top = confident(_hits(ctx, text))
    if named:
        return named
    if top is not None and top.kind == "product":
        return top.id
    for m in reversed((ctx.history + ctx.new_messages)[-PAY_HISTORY:]):
        named = _named_product(ctx, m.text)
        if named:
            return named
    return next((o.product_id for o in ctx.card.offers if o.product_id), None)


def analyze_rules(ctx: TurnContext, resolve: Optional[TimeResolver] = None) -> Analysis:
    text = ctx.words if ctx.kind == "reply" else (ctx.reminder_context or "")
    stage = funnel_stage(ctx, text)
    hits = _hits(ctx, text)
    angry = bool(ANGER_RE.search(text))
    human = wants_a_person(text)
    kind = moments.escalation_kind(ctx, text, angry, human)
    special = (kind or moments.asks_about_assistant(text) or moments.goodbye(text)
               or moments.frustrated_student(ctx, text) or demands_discount(text)
               or RIVAL_RE.search(text) or returning_lines(ctx, text, stage))
    top = confident(hits)
    unanswered = ("?" in text and not special and not answered_ids(ctx, text)
                  and (unknown_subject(ctx, text) or (
                      (top is None or foreign_subject(ctx, text, top))
                      and clarifying_question(ctx, text) is None
                      and not (COURSE_ASK_RE.search(text) and stage in ("warm", "hot")))))
    kind = kind or ("unanswered" if unanswered else "")
    # kind is one of EscalationKind's values (escalation_kind and "unanswered")
    escalate = Escalation(needed=bool(kind), kind=kind, reason={
        "anger": "раздражение клиента", "refund": "просит вернуть деньги",
        "payment_or_access": "проблема с оплатой или доступом",
        "human_request": "просит живого человека",
        "unanswered": "вопрос без ответа в базе знаний"}.get(kind, ""))
    follow_up = detect_follow_up(text, ctx.now, ctx.card.timezone, resolve)
    intent = ("просит не писать" if follow_up.cancel_all else "договаривается о связи позже"
              if follow_up.agreed else "просит живого человека" if human else
              "спрашивает о цене или покупке" if stage == "hot" else "задаёт вопрос" if "?" in text
              else "общается")
    facts = extract_facts(text)
    known = known_facts(ctx, facts)
    return Analysis(
        known=known, missing=[label for key, label in (("goal", "цель"), ("level", "уровень"))
                              if getattr(known, key) is None],
        psych_state="раздражён" if angry else "заинтересован" if stage in ("warm", "hot")
        else "спокоен, присматривается", mood="негативное" if angry else "нейтральное",
        conversation_step=conversation_step(ctx, text, stage, bool(kind), follow_up),
        funnel_stage=stage, intent=intent, facts=facts, follow_up=follow_up,
        short_term_strategy="ответить по делу и задать один вопрос о цели или уровне",
        long_term_strategy="выстроить доверие и помочь выбрать подходящий курс",
        kb_ids=[h.id for h in hits], offer=_offer(ctx, stage, text), escalate=escalate,
        pay_product_id=product_to_pay(ctx, text) if ctx.kind == "reply" else None,
        reply_plan="ответ из базы знаний или подбор курса по уровню; один вопрос")


def known_facts(ctx: TurnContext, facts: Facts) -> Known:
    """What is known for choosing a course: this message's facts, else the card, else what the
    previous turn knew."""
    prev = ctx.previous.known if ctx.previous is not None else {}
    card = ctx.card
    child = (facts.goal or card.goal) == "обучение ребёнка" or facts.age_group == "ребёнок"

    def pick_(*values: Optional[str]) -> Optional[str]:
        return next((v for v in values if v), None)

    return Known(who_learns=pick_("ребёнок" if child else None, prev.get("who_learns")),
                 goal=pick_(facts.goal, card.goal, prev.get("goal")),
                 level=pick_(facts.level, card.level, prev.get("level")),
                 instrument=pick_(facts.instrument, card.instrument, prev.get("instrument")),
                 time=pick_(prev.get("time")),
                 budget=pick_(facts.budget, card.budget, prev.get("budget")))


def day_greeting(ctx: TurnContext) -> str:
    hour = local(ctx.now, ctx.card.timezone).hour
    return ("Доброе утро" if 5 <= hour < 12 else "Добрый день" if hour < 18
            else "Добрый вечер" if hour < 23 else "Здравствуйте")


def should_greet(ctx: TurnContext) -> bool:
    """The first reply to a client, or the first after a pause of more than a day."""
    if ctx.card.is_new:
        return True
    return bool(ctx.history) and ctx.now - ctx.history[-1].created_at > timedelta(days=1)


def _name(ctx: TurnContext, analysis: Optional[Analysis]) -> str:
    return ctx.card.first_name or (analysis.facts.name if analysis is not None else None) or ""


def suggest_products(ctx: TurnContext, analysis: Analysis, hits: list[Hit]) -> list[Product]:
    owned = {p.product_id for p in ctx.card.purchases}
    level = analysis.facts.level or ctx.card.level
    entries = [kb_entry(ctx.kb, h.id) for h in hits if h.kind == "product"
               and (h.score >= PRODUCT_SHARE * hits[0].score or level)]
    found = [p for p in entries if isinstance(p, Product)]  # product hits: the KB's products
    if level:  # never suggest a course of another level than the client's
        found = [p for p in found if p.level in (level, "any")]
    if not found:
        level = level or "beginner"
        kids = (analysis.facts.goal or ctx.card.goal or "") == "обучение ребёнка"
        products: list[Product] = ctx.kb.products if ctx.kb is not None else []
        found = [p for p in products if for_kids(p) == kids
                 and p.kind == "course" and p.level == level]
    return [p for p in found if p.id not in owned][:2]


def _question(ctx: TurnContext, analysis: Analysis) -> str:
    if (analysis.facts.goal or ctx.card.goal) == "обучение ребёнка":
        return pick(("Расскажите, сколько лет ребёнку и занимался ли он этим раньше?",
                     "Ребёнок уже пробовал заниматься или начинает с нуля?"), ctx.turn_id)
    if not (analysis.facts.level or ctx.card.level):
        return pick(("Скажите, вы уже пробовали заниматься или начинаете с нуля?",
                     "Расскажите, был ли у вас опыт раньше — хотя бы немного?"), ctx.turn_id)
    if not (analysis.facts.goal or ctx.card.goal):
        return pick(("О чём вы мечтаете — чему хотелось бы научиться в первую очередь?",
                     "Расскажите, к какому результату хочется прийти?"), ctx.turn_id)
    return pick(("Если появятся вопросы — пишите, я на связи.", "Что ещё подсказать?"), ctx.turn_id)


def _answer(ctx: TurnContext, analysis: Analysis, ids: list[str]) -> list[str]:
    """The entries' answers (no stock opener) and a closing question by the step: someone who
    needs help (access, payment, documents) or a student is not asked about their goals."""
    entries = [kb_entry(ctx.kb, i) for i in ids]
    support = ctx.card.purchases or any(moments.is_support_entry(e) for e in entries)
    answers = [entry_answer(e) for e in entries if e is not None]  # ids of this KB: never None
    last = re.split(r"(?<=[.!?])\s+", answers[-1].strip())[-1] if answers else ""
    if "?" in last or re.match(r"(?:напишите|расскажите)\b", last, re.I):
        return [*answers, ""]  # the entry ends with its own question: one question only
    close = (pick(("Если появятся ещё вопросы — пишите, я на связи.",
                   "Если что-то ещё понадобится — пишите."), ctx.turn_id)
             if support else _question(ctx, analysis))
    return [*answers, close]


def _products(ctx: TurnContext, analysis: Analysis, found: list[Hit]) -> list[str]:
    """A short list of fitting products, never one this dialog has already been sent."""
    named = chosen_product(ctx, ctx.words)
    owned = {p.product_id for p in ctx.card.purchases}
    offered: list[Product]
    if named and named not in owned:  # one product when one is named
        entry = kb_entry(ctx.kb, named)
        assert isinstance(entry, Product), named  # chosen_product names a product of this KB
        offered = [entry]
    else:
        offered = suggest_products(ctx, analysis, found)
    lines = [product_line(p) for p in offered]
    fresh = [line for line in lines if not already_sent(ctx, line)]
    if not fresh:
        return []
    return ([pick(("Вот что могу предложить.", "Подберу вам подходящий вариант."), ctx.turn_id)]
            + fresh + [_question(ctx, analysis)])


def _not_sure(ctx: TurnContext, analysis: Analysis, text: str) -> list[str]:
    clarify = clarifying_question(ctx, text) if "?" in text or len(text) > 25 else None
    if clarify and not analysis.escalate.needed:
        return [pick(("Хочу ответить точно.", "Хочу понять вас правильно."), ctx.turn_id), clarify]
    if analysis.escalate.needed or "?" in text:
        return [UNKNOWN_TEXT]
    return [pick(("Хочу разобраться как следует.", "Постараюсь помочь."), ctx.turn_id),
            "Расскажите, пожалуйста, чуть подробнее, что вас интересует?"]


UNKNOWN_TEXT = ("Честно скажу: точного ответа у меня под рукой нет, а гадать не хочу. "
                "Передам вопрос коллегам из школы — вам ответят здесь же.")
ORDER_CHECK_TEXT = ("Вижу, что по вашему контакту есть оплата, но подтвердить её я пока не могу: "
                    "менеджер проверит заказ и напишет вам, как только всё сверит.")


def _body(ctx: TurnContext, analysis: Analysis) -> list[str]:
    text, turn = ctx.words, ctx.turn_id
    found = _hits(ctx, text)
    mine = ctx.card.purchases and ACCESS_RE.search(text)
    back = returning_lines(ctx, text, analysis.funnel_stage)
    if ctx.card.order_check_pending and not ctx.card.purchases and ACCESS_RE.search(text):
        return [ORDER_CHECK_TEXT]
    if moments.asks_about_assistant(text):
        return moments.about_assistant(ctx, text)
    if moments.goodbye(text):
        return moments.farewell(ctx, text)
    if moments.frustrated_student(ctx, text):
        return moments.support_student(ctx)  # support first, no sale in this reply
    if demands_discount(text):
        return moments.refuse_demand(ctx)
    if mine or (ctx.card.purchases and analysis.funnel_stage in ("client", "returning")
                and not answered_ids(ctx, text)):
        extension = back or (extension_lines(ctx) if EXTEND_RE.search(text) else [])
        return [purchases_text(ctx), *extension,
                pick(("Чем могу помочь с занятиями?", "Подсказать что-нибудь по курсам?"), turn)]
    if back:
        return [*back, pick(("Что вам ближе?", "Подсказать, как оформить?"), turn)]
    if is_browsing(text):
        return ["Конечно, смотрите спокойно — здесь нет никакой спешки. Если появится вопрос "
                "о занятиях или захочется понять, с чего начать, просто напишите."]
    if THINK_RE.search(text) and "?" not in text:
        return moments.think_it_over(ctx)
    if PRICE_BLOCKER_RE.search(text) and chosen_product(ctx, text):
        return moments.price_blocker(ctx)
    if RIVAL_RE.search(text):
        offered = suggest_products(ctx, analysis, found)
        return moments.rival(ctx, offered[0] if offered else None)
    if analysis.escalate.needed:
        return _handover(ctx, analysis)
    ids = answered_ids(ctx, text, buying=bool(HOT_RE.search(text)))
    if ids:
        return _answer(ctx, analysis, ids)
    if unknown_subject(ctx, text):
        return [UNKNOWN_TEXT]
    wants = HOT_RE.search(text) or WARM_RE.search(text)
    # a question (not about price or buying) whose closest entry is an FAQ is clarified, not
    # answered with a product list
    asks_faq = ("?" in text and not HOT_RE.search(text) and bool(found) and found[0].kind == "faq"
                and not any(h.kind == "product" and h.score >= PRODUCT_SHARE * found[0].score
                            for h in found))
    products = _products(ctx, analysis, found) if wants and not asks_faq else []
    if products:
        return products
    if ctx.card.is_new:
        school = (ctx.kb.school.name if ctx.kb is not None else "") or "школа"
        return [f"Это {school}, меня зовут {persona_name()} — я виртуальный помощник школы: "
                "подскажу, с чего начать, помогу выбрать курс и отвечу на вопросы о занятиях.",
                _question(ctx, analysis)]
    if THANKS_RE.search(text) and "?" not in text:
        return [pick(("Всегда пожалуйста!", "Пожалуйста, обращайтесь!"), turn)]
    if GREETING_RE.match(text.strip()) and len(text) < 40:
        return [f"Здравствуйте{', ' + ctx.card.first_name if ctx.card.first_name else ''}! "
                "Чем могу помочь?"]
    return _not_sure(ctx, analysis, text)


def _handover(ctx: TurnContext, analysis: Analysis) -> list[str]:
    """Whoever escalated (the rules or a model's analysis), the words fit what happened."""
    text = ctx.words
    kind = analysis.escalate.kind or moments.escalation_kind(
        ctx, text, bool(ANGER_RE.search(text)), wants_a_person(text))
    if kind == "unanswered":
        return [UNKNOWN_TEXT]
    return moments.handover(ctx, kind, policy_sentence(ctx, ctx.words))


def compose_reply(ctx: TurnContext, analysis: Analysis, decisions: Decisions) -> str:
    tz, name = ctx.card.timezone, _name(ctx, analysis)
    parts = [f"Здравствуйте, {name}!" if name else "Здравствуйте!"] if should_greet(ctx) else []
    parts.append(offline_media.lead(ctx) or "")
    alone = offline_media.only_media(ctx)
    if offline_media.voice_unheard(ctx) and not ctx.plain_text.strip():
        parts.append(offline_media.voice_text(ctx))
    elif alone is not None and not decisions.escalated:
        parts.append(alone)
    elif decisions.escalated or analysis.escalate.needed:
        parts += _handover(ctx, analysis)
    elif decisions.reminders_cancelled or analysis.follow_up.cancel_all:
        parts.append("Хорошо, больше не буду беспокоить. Если захотите вернуться к разговору "
                     "о занятиях — просто напишите.")
    elif decisions.reminder_due_at:
        answer = _body(ctx, analysis)[:-1] if "?" in ctx.words else []
        moment = ru_moment(decisions.reminder_due_at, tz)
        parts += answer + [f"Давайте я напишу вам {moment} — вам удобно?"
                           if decisions.reminder_is_default else f"Хорошо, напишу вам {moment}."]
    elif decisions.payment is not None:  # code appends the amount and the link
        parts.append(pick(("Отлично, оформляем!", "Прекрасный выбор!"), ctx.turn_id))
    else:
        parts += _body(ctx, analysis)
    parts.insert(len(parts) - 1 if len(parts) > 1 else len(parts), offer_text(decisions, tz) or "")
    if offline_media.voice_unheard(ctx) and ctx.plain_text.strip():
        parts.append(offline_media.VOICE_WITH_TEXT)
    return not_repeated(ctx, " ".join(p.strip() for p in parts if p and p.strip()))


def compose_proactive(ctx: TurnContext, analysis: Optional[Analysis], decisions: Decisions) -> str:
    name = _name(ctx, analysis)
    parts = [f"{day_greeting(ctx)}, {name}!" if name else f"{day_greeting(ctx)}!"]
    if ctx.kind == "access_extension":
        parts += extension_text(ctx)
    elif ctx.kind == "followup":
        parts += followup_lines(ctx)
    else:
        about = clip((ctx.reminder_context or "").rstrip(". "), 200)
        parts.append("Как и договаривались, возвращаюсь к нашему разговору"
                     + (f": {about}." if about else "."))
        parts.append(pick(("Удобно сейчас продолжить?", "Как у вас дела с этим?"), ctx.turn_id))
    parts.insert(len(parts) - 1, offer_text(decisions, ctx.card.timezone) or "")
    return " ".join(p for p in parts if p)


class OfflineBrain:
    def __init__(self, name: str = "offline", resolve_time: Optional[TimeResolver] = None):
        self.name = name
        self.resolve_time = resolve_time

    def analyze(self, ctx: TurnContext) -> StageResult:
        value = analyze_rules(ctx, self.resolve_time)
        if ctx.kind == "followup":  # written first after a silence: nothing new to act on
            value.escalate, value.follow_up, value.offer = Escalation(), FollowUp(), None
            # the card's stage is one of FunnelStage (the turn writes it from an Analysis)
            value.facts, value.funnel_stage = Facts(), cast(FunnelStage, ctx.card.funnel_stage)
        # a former student's question is answered from the card and the KB's courses
        back = ctx.kind == "reply" and returning_lines(ctx, ctx.words, value.funnel_stage)
        return StageResult(value=value, usage=Usage(model=self.name),
                           flags=[KB_NO_MATCH] if kb_no_match(ctx) and not back else [])

    def write_reply(self, ctx: TurnContext, analysis: Optional[Analysis],
                    decisions: Decisions) -> StageResult:
        if analysis is None:
            analysis = analyze_rules(ctx, self.resolve_time)
        compose = compose_reply if ctx.kind == "reply" else compose_proactive
        return StageResult(value=compose(ctx, analysis, decisions), usage=Usage(model=self.name))
