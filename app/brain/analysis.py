"""Stage 1 output: the internal analysis of a turn, validated with pydantic.

The model answers with JSON constrained by `ANALYSIS_SCHEMA`; `parse_analysis` validates
the text (never trust `response.parsed`) and raises `AnalysisInvalid` with the error.
"""
from __future__ import annotations

import copy
import json
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

FunnelStage = Literal["cold", "warm", "hot", "client", "returning"]
FUNNEL_STAGES: tuple[str, ...] = ("cold", "warm", "hot", "client", "returning")
ConversationStep = Literal["знакомство", "цель", "подбор", "сомнение", "оформление",
                           "поддержка ученика", "завершение"]
CONVERSATION_STEPS: tuple[str, ...] = ("знакомство", "цель", "подбор", "сомнение", "оформление",
                                       "поддержка ученика", "завершение")
EscalationKind = Literal["", "anger", "refund", "payment_or_access", "human_request",
                         "unanswered", "other"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Facts(_Model):
    """What the client told about themselves (only what they actually said)."""

    name: Optional[str] = None
    email: Optional[str] = None
    phone: Optional[str] = None
    level: Optional[str] = Field(None, description="beginner|intermediate|advanced или своими словами")
    goal: Optional[str] = None
    instrument: Optional[str] = None
    age_group: Optional[str] = None
    budget: Optional[str] = None
    objections: list[str] = Field(default_factory=list)
    timezone: Optional[str] = Field(None, description="IANA, если клиент назвал город или пояс")


class Known(_Model):
    """What is already known for choosing a course (from the card, the past turns and now)."""

    who_learns: Optional[str] = Field(
        None, description="кто учится: сам клиент, ребёнок (возраст), другой взрослый")
    goal: Optional[str] = None
    level: Optional[str] = None
    instrument: Optional[str] = None
    time: Optional[str] = Field(None, description="сколько времени готов заниматься")
    budget: Optional[str] = None


class FollowUp(_Model):
    agreed: bool = False
    text: Optional[str] = Field(None, description="слова клиента с выражением времени, дословно")
    note: str = Field("", description="о чём договорились и зачем написать")
    is_vague: bool = Field(False, description="согласие без конкретного времени: 'попозже'")
    cancel_all: bool = Field(False, description="клиент просит больше не писать")


class OfferRequest(_Model):
    offer_id: str
    product_id: Optional[str] = Field(None, description="id продукта из базы знаний, к которому относится")
    reason: str = ""
    # the client demanded a discount (set by the analysis or by code from the client's words):
    # the sales policy never grants such a request
    client_demand: bool = Field(False, description="клиент сам требует скидку или промокод")


class Escalation(_Model):
    needed: bool = False
    kind: EscalationKind = ""
    reason: str = ""


class Analysis(_Model):
    # first: the model hears the voice note before it judges anything
    transcript: Optional[str] = Field(
        None, description="дословная расшифровка приложенного голосового сообщения клиента "
                          "(только если аудио приложено), иначе null")
    psych_state: str = Field(description="состояние и настроение клиента")
    mood: str = ""
    conversation_step: ConversationStep = "знакомство"
    funnel_stage: FunnelStage
    known: Known = Field(default_factory=Known)
    missing: list[str] = Field(default_factory=list, description="чего не хватает для подбора")
    next_question: Optional[str] = Field(None, description="один вопрос, который задать следующим")
    intent: str
    short_term_strategy: str
    long_term_strategy: str
    facts: Facts = Field(default_factory=Facts)
    follow_up: FollowUp = Field(default_factory=FollowUp)
    kb_ids: list[str] = Field(default_factory=list, description="id записей базы знаний")
    offer: Optional[OfferRequest] = None
    pay_product_id: Optional[str] = Field(
        None, description="id продукта из базы знаний, который клиент выбрал и хочет оплатить "
                          "сейчас (просит ссылку на оплату, спрашивает, как оплатить, «беру»), "
                          "иначе null")
    escalate: Escalation = Field(default_factory=Escalation)
    reply_plan: str


class AnalysisInvalid(ValueError):
    """The model's text is not a valid `Analysis`; `str(exc)` is the error for a repair."""


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Resolve `$ref`s into `$defs` and drop titles: the plainest schema to send a model."""
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[-1]]))
            return {k: walk(v) for k, v in node.items() if k not in ("$defs", "title")}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    inlined: dict[str, Any] = walk(schema)
    return inlined


ANALYSIS_SCHEMA: dict[str, Any] = _inline_refs(Analysis.model_json_schema())

# An analysis is a few thousand characters; the model's output is capped too (max_output_tokens).
# Longer text is not parsed at all.
MAX_ANSWER_CHARS = 64_000
FENCE = "```"


def _unfence(text: str) -> str:
    """Markdown fences around the JSON removed with plain string operations (a regex here was
    polynomial: ``` and thousands of newlines froze the process for minutes)."""
    body = text.strip()
    if not body.startswith(FENCE):
        return body
    body = body[len(FENCE):]
    if body[:4].lower() == "json":
        body = body[4:]
    body = body.rstrip()
    if body.endswith(FENCE):
        body = body[:-len(FENCE)]
    return body.strip()


def _strip(text: str) -> str:
    body = _unfence(text)
    if not body.startswith("{"):
        start, end = body.find("{"), body.rfind("}")
        if start != -1 and end > start:
            body = body[start:end + 1]
    return body


def parse_analysis(text: Optional[str]) -> Analysis:
    if text is None or not text.strip():
        raise AnalysisInvalid("empty answer: expected one JSON object")
    if len(text) > MAX_ANSWER_CHARS:
        raise AnalysisInvalid(f"answer of {len(text)} characters: expected one JSON object of "
                              f"at most {MAX_ANSWER_CHARS}")
    body = _strip(text)
    try:
        json.loads(body)
    except json.JSONDecodeError as exc:
        raise AnalysisInvalid(f"not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise AnalysisInvalid("not valid JSON: nested too deeply") from exc
    try:
        return Analysis.model_validate_json(body)
    except ValidationError as exc:
        raise AnalysisInvalid(str(exc)) from exc
