"""Which buttons a reply carries: chosen by code from the analysis, the decisions and the KB,
never from the model's text; only for an app that shows inline keyboards, and not every time."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from app.brain.contract import Decisions, TurnContext
from app.platform.config import SUBSCRIPTION_INTENTS, Settings
from app.turns.context import DialogState
from app.vk import keyboards
from app.vk.keyboards import ButtonSpec

if TYPE_CHECKING:
    from app.brain.analysis import Analysis

SUBSCRIBE_LABEL = "Получить напоминание"


def _can(actions: set[str], kind: str) -> bool:
    return not actions or kind in actions  # an app that lists nothing: the basic kinds


def _products(ctx: TurnContext, analysis: Optional[Analysis]) -> list[Any]:
    found = []
    for entry_id in (analysis.kb_ids if analysis is not None else None) or []:
        product = ctx.kb.product(entry_id) if ctx.kb is not None else None
        if product is not None and product.url:
            found.append(product)
    return found


def choose(ctx: TurnContext, analysis: Optional[Analysis], decisions: Decisions, state: DialogState,
           settings: Settings) -> list[ButtonSpec]:
    caps = state.capabilities or {}
    if not settings.vk_buttons or ctx.kind != "reply" or caps.get("inline_keyboard") is not True:
        return []
    if analysis is None or decisions.escalated or analysis.follow_up.cancel_all:
        return []
    actions = {a for a in caps.get("button_actions") or [] if isinstance(a, str)}
    buttons: list[ButtonSpec] = []
    intent = settings.vk_intent_reminder
    if decisions.reminder_due_at and intent in SUBSCRIPTION_INTENTS \
            and "intent_subscribe" in actions:
        sub_id = settings.vk_subscribe_id if intent == "confirmed_notification" else None
        buttons.append(keyboards.subscribe(intent, sub_id, SUBSCRIBE_LABEL))
    if state.last_had_keyboard and not buttons:
        return []  # the previous reply offered buttons: not on every message
    products = _products(ctx, analysis)
    if products and _can(actions, "open_link"):
        buttons.append(keyboards.open_link(f"Подробнее: {products[0].title}", products[0].url))
    if _can(actions, "callback"):
        stage = analysis.funnel_stage
        if not ctx.card.purchases and stage in ("cold", "warm") and not products:
            buttons.append(keyboards.callback("pick"))
            buttons.append(keyboards.callback("prices"))
        elif stage == "hot" or products:
            buttons.append(keyboards.callback("manager"))
    return buttons[:keyboards.MAX_BUTTONS]


def keyboard_for(ctx: TurnContext, analysis: Optional[Analysis], decisions: Decisions, state: DialogState,
                 settings: Settings) -> Optional[str]:
    return keyboards.build(choose(ctx, analysis, decisions, state, settings))
