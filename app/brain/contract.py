"""Plain data passed between the pipeline (DB side) and the brain (model side).

The brain never touches the database: the pipeline builds a `TurnContext` from the
client card and the dialog, the brain returns results, and the pipeline stores them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Optional, Protocol

from app.platform.vocabulary import TurnKind

if TYPE_CHECKING:
    from app.brain.analysis import Analysis
    from app.knowledge.base import KnowledgeBase
    from app.knowledge.search import KnowledgeIndex


# Plain views of the card's purchases and offers, and the sales policy's decision: the brain
# reads them to write replies and check guardrails; crm fills them.
@dataclass(frozen=True)
class PurchaseView:
    product_id: str
    title: str
    paid_at: datetime
    access_until: Optional[datetime]  # None = lifetime access


@dataclass(frozen=True)
class OfferView:
    """A discount or bonus the sales policy has already granted to this client."""

    offer_id: str
    kind: Literal["discount", "bonus"]
    code: Optional[str]
    percent: Optional[int]
    product_id: Optional[str]
    expires_at: Optional[datetime]


@dataclass
class OfferDecision:
    """What `crm.sales` decided about the analysis' offer request."""

    requested_id: str
    granted: bool
    reason: str
    kind: Optional[Literal["discount", "bonus"]] = None
    percent: Optional[int] = None
    code: Optional[str] = None
    product_id: Optional[str] = None
    expires_at: Optional[datetime] = None
    title: Optional[str] = None


@dataclass(frozen=True)
class PaymentOffer:
    """A payment link code made for the product the client chose (`app.payments`): the amount
    is the KB price less a discount the policy granted to this client for it (within the cap).
    `url` is None when the provider failed: the reply then gives `product_url` honestly."""

    product_id: str
    title: str
    amount_rub: int
    list_price_rub: int
    percent: Optional[int]
    status: Literal["ready", "unavailable"]
    url: Optional[str] = None
    product_url: Optional[str] = None
    link_id: Optional[int] = None
    reused: bool = False  # a pending payment made earlier for the same product and amount


Direction = Literal["in", "out"]


@dataclass
class ClientCard:
    vk_id: int
    first_name: str = ""
    last_name: str = ""
    email: Optional[str] = None
    phone: Optional[str] = None
    funnel_stage: str = "cold"
    timezone: str = "Europe/Moscow"
    level: Optional[str] = None
    goal: Optional[str] = None
    instrument: Optional[str] = None
    age_group: Optional[str] = None
    budget: Optional[str] = None
    notes: str = ""
    tags: list[str] = field(default_factory=list)
    objections: list[str] = field(default_factory=list)  # the client's words: data, fenced
    purchases: list[PurchaseView] = field(default_factory=list)
    offers: list[OfferView] = field(default_factory=list)
    is_new: bool = False  # no reply has ever been sent to this client
    # an order matched only a contact this client typed in chat (a claim): staff must confirm it;
    # until then no purchase or access date may be confirmed, only "a manager will check"
    order_check_pending: bool = False


@dataclass(frozen=True)
class HistoryMessage:
    direction: Direction
    text: str
    created_at: datetime


@dataclass(frozen=True)
class MediaPart:
    """A file the client sent, given to the model inline (loaded by the pipeline)."""

    kind: Literal["voice", "image"]
    mime_type: str
    data: bytes
    label: str  # how the prompt names it: «голосовое сообщение 0:12», «фото»
    message_id: int = 0  # the pipeline's row (a transcript is stored there)


@dataclass(frozen=True)
class PreviousTurn:
    """What the last answered turn of this dialog concluded (from its stored analysis): fed back
    so the analysis continues the conversation instead of starting it again."""

    step: str = ""
    short_term_strategy: str = ""
    long_term_strategy: str = ""
    known: dict[str, str] = field(default_factory=dict)
    next_question: str = ""


@dataclass
class TurnContext:
    turn_id: int
    now: datetime
    card: ClientCard
    new_messages: list[HistoryMessage]  # the burst this turn answers (empty for reminders)
    history: list[HistoryMessage]  # bounded window of earlier messages, oldest first
    summary: str  # rolling summary of messages older than the window
    kb: Optional[KnowledgeBase]  # the current valid version
    kb_index: Optional[KnowledgeIndex]  # built for that version
    kind: TurnKind = TurnKind.REPLY
    reminder_context: Optional[str] = None  # what was agreed, for proactive turns
    media: list[MediaPart] = field(default_factory=list)  # files of the burst, for the model
    # voice notes of the burst nobody has transcribed (not sent, too long, failed download)
    unheard_voice: list[str] = field(default_factory=list)
    inbound_kinds: list[str] = field(default_factory=list)  # voice, photo, sticker, … of the burst
    plain_text: str = ""  # the client's own words in the burst, without bracketed notes
    # what the client said: typed text and voice transcripts (VK's or the model's), no notes
    heard_text: str = ""
    # agreements VK did not let us keep (a refused reminder), for this reply to own up to
    missed_agreements: list[str] = field(default_factory=list)
    previous: Optional[PreviousTurn] = None  # the last turn's step, strategy and known facts

    @property
    def new_text(self) -> str:
        return "\n".join(m.text for m in self.new_messages if m.text)

    @property
    def words(self) -> str:
        """The client's words to match against the KB: what was typed or said, without the
        bracketed notes of attachments; the notes themselves when there are no words."""
        return self.heard_text if self.heard_text.strip() else self.new_text


@dataclass
class Decisions:
    """Everything code decided after the analysis, handed to the reply stage."""

    offer: Optional[OfferDecision] = None
    reminder_due_at: Optional[datetime] = None
    reminder_is_default: bool = False
    reminders_cancelled: bool = False
    escalated: bool = False
    payment: Optional[PaymentOffer] = None  # a payment link for the chosen product
    # codes and percents the reply may mention (granted now or earlier and still valid)
    allowed_codes: set[str] = field(default_factory=set)
    allowed_percents: set[int] = field(default_factory=set)
    # set by the brain's engine only: why the previous reply draft was rejected (regeneration)
    guardrail_flags: list[str] = field(default_factory=list)
    # effects that failed and were rolled back (the turn still answers): flagged on the turn
    effect_errors: list[str] = field(default_factory=list)


@dataclass
class Usage:
    model: str
    prompt_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0  # of prompt_tokens, served from Gemini's implicit context cache
    thinking_tokens: int = 0  # Gemini's thoughts_token_count: not in output_tokens, billed as output
    model_version: str = ""  # the model version the response reported (what answered)
    latency_ms: int = 0
    attempts: int = 1


@dataclass
class StageResult:
    value: Any  # Analysis for stage 1, str for stage 2
    usage: Usage
    prompt_chars: int = 0
    flags: list[str] = field(default_factory=list)  # turn flags the provider raises, e.g. kb_no_match


class Brain(Protocol):
    """A provider of the two model calls (Gemini or the offline rules)."""

    name: str

    def analyze(self, ctx: TurnContext) -> StageResult: ...

    def write_reply(self, ctx: TurnContext, analysis: Optional[Analysis],
                    decisions: Decisions) -> StageResult: ...


@dataclass
class BrainResult:
    analysis: Analysis
    reply_text: str
    decisions: Decisions
    prompt_version: str
    usage: dict[str, Any]  # {"analysis": {...Usage}, "reply": {...Usage}}
    flags: list[str] = field(default_factory=list)  # e.g. "analysis_fallback", "guardrail:price"
    fallback: bool = False
    # the reply promises a person (a colleague will check, answer, send) although the analysis
    # did not escalate: the pipeline calls one (the promise, quoted, is the reason)
    handoff: str = ""
