"""`build`: the seams constructed from Settings (database, clock, KB store, channel, brains via
one `gemini_from`, manager alerts, claims, payments, the turn runner) as one `Parts`; the
composition is the only code that knows every part."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Callable, Optional, TypeVar

from app.brain.bounded import BoundedBrain
from app.brain.contract import Brain
from app.brain.prompts import PromptSet
from app.crm.alerts import AlertSettings, ManagerAlerts
from app.knowledge.base import KnowledgeStore
from app.payments import Payments
from app.platform.clock import Clock
from app.platform.config import Settings
from app.platform.db import Database
from app.platform.migrate import embedded_url_at_head
from app.runtime import InFlight
from app.turns import Claims, TurnRunner
from app.vk.channel import OutboundChannel, UnconfiguredChannel

if TYPE_CHECKING:
    from flask import Flask

    from app.brain.gemini import GeminiBrain, GeminiJudge
    from app.composition.background import Background
    from app.devchat.vk_http import VkHttpServer

log = logging.getLogger(__name__)
LOCAL_VK_TOKEN = "local-dev-token"


@dataclass
class Parts:
    """Everything `build` made for one app. Composition code (and tests) read it; nothing
    below the composition is handed it: each part gets only its own collaborators."""

    settings: Settings
    db: Database
    clock: Clock
    kb_store: KnowledgeStore
    channel: OutboundChannel
    primary_brain: Brain
    offline_brain: Brain
    inflight: InFlight
    alerts: ManagerAlerts
    claims: Claims
    turns: TurnRunner
    wake: threading.Event  # set by the callback when a reply is due at once
    payments: Optional[Payments] = None  # None: no provider (replies keep the KB's product URL)
    local_vk: Optional[VkHttpServer] = None  # local mode only: the loopback VK stand-in
    background: Optional[Background] = None  # the runners; started by `start_background`
    flask: Flask = field(init=False)  # the app these parts serve (set by create_app)

    def shutdown(self) -> None:
        from app.vk.batching import BatchingChannel

        if self.background is not None:
            self.background.halt()
        if isinstance(self.channel, BatchingChannel):
            self.channel.stop()
        if self.payments is not None:
            self.payments.shutdown()
        if self.local_vk is not None:
            self.local_vk.stop()
        self.db.dispose()


G = TypeVar("G", bound="GeminiBrain")


def _gemini(make: Callable[..., G], settings: Settings, prompts: Optional[PromptSet]) -> G:
    """A Gemini made by `make` (a class, or one with its own arguments bound) on the settings'
    connection and per-stage config (thinking level/budget, output cap: brain.gemini.config),
    shared by everything built here."""
    from app.brain.gemini import stage_configs

    return make(api_key=settings.gemini_api_key or "", base_url=settings.gemini_base_url,
                analysis_model=settings.gemini_analysis_model,
                reply_model=settings.gemini_reply_model, timeout_s=settings.gemini_timeout_s,
                kb_token_budget=settings.kb_context_token_budget,
                stages=stage_configs(settings), prompts=prompts)


def gemini_from(settings: Settings, prompts: Optional[PromptSet] = None) -> Optional[GeminiBrain]:
    """Gemini from the settings (prompts from `prompts`, else the built-in ones); None without
    GEMINI_API_KEY. The one place a GeminiBrain is built: the app and the eval lab."""
    if not settings.gemini_configured:
        return None
    from app.brain.gemini import GeminiBrain

    return _gemini(GeminiBrain, settings, prompts)


def judge_from(settings: Settings, prompts: Optional[PromptSet] = None) -> Optional[GeminiJudge]:
    """The eval lab's judge, beside `gemini_from` (same connection and stages), on its own
    model (EVAL_JUDGE_MODEL; stages["judge"] from EVAL_JUDGE_*). None without GEMINI_API_KEY."""
    if not settings.gemini_configured:
        return None
    from app.brain.gemini import GeminiJudge

    return _gemini(partial(GeminiJudge, judge_model=settings.eval_judge_model), settings, prompts)


def build(settings: Settings, clock: Clock, lazy: bool = False, local: bool = False,
          channel: Optional[OutboundChannel] = None,
          primary_brain: Optional[Brain] = None) -> Parts:
    """`channel` / `primary_brain` replace the configured ones (tests, the eval lab)."""
    from app.brain.offline import OfflineBrain
    from app.reminders.resolver import resolve

    url = settings.database_url or (lambda: embedded_url_at_head(settings.data_dir))
    # Workers hold a connection only briefly (never across a model call): a small pool
    # serves many threads and keeps processes × pool well under PostgreSQL's 100 connections.
    db = Database(url, pool_size=min(16, max(5, settings.worker_threads // 2 + 4)))
    kb_store = KnowledgeStore(settings.knowledge_base_path)
    if not lazy:
        kb_store.load()  # refuses to start only when there is no valid version at all
    offline = OfflineBrain(resolve_time=resolve)
    if primary_brain is None:
        gemini = gemini_from(settings)
        if gemini is None:
            log.info("GEMINI_API_KEY is not set: the offline rule-based brain answers")
        else:  # many turns wait on the model at once, at most MODEL_MAX_CONCURRENCY calls
            primary_brain = BoundedBrain(gemini, settings.model_max_concurrency)
    local_vk = None
    if channel is None and not (lazy and not settings.vk_configured):
        channel, local_vk = _vk_channel(settings, local, db)  # CLI runs without a token need no stand-in
    channel = channel or UnconfiguredChannel()
    inflight = InFlight()
    alerts = ManagerAlerts(db, clock, channel, AlertSettings.of(settings))
    claims = Claims(db, clock, settings.claim_timeout_s, settings.max_turn_attempts)
    payments = payments_from(settings, db, clock, kb_store, channel, local=local_vk is not None)
    turns = TurnRunner(db, clock, kb_store, primary_brain or offline, offline, channel, alerts,
                       claims, inflight, settings,
                       payments=payments.links if payments is not None else None)
    return Parts(settings=settings, db=db, clock=clock, kb_store=kb_store, channel=channel,
                 primary_brain=primary_brain or offline, offline_brain=offline,
                 inflight=inflight, alerts=alerts, claims=claims, turns=turns,
                 wake=threading.Event(), payments=payments, local_vk=local_vk)


def payments_from(settings: Settings, db: Database, clock: Clock, kb_store: KnowledgeStore,
                  channel: OutboundChannel, local: bool) -> Optional[Payments]:
    """YooKassa with a shop id and key; locally (beside the VK stand-in) the stand-in checkout
    at /dev/pay/<id>; otherwise none: replies keep the KB's product URL."""
    from app.crm.alerts import dialog_link
    from app.payments import (
        LocalCheckout,
        PaymentLinks,
        PaymentNotifications,
        PaymentProvider,
        YooKassaClient,
    )

    checkout: Optional[LocalCheckout] = None
    provider: PaymentProvider
    if settings.yookassa_configured:
        provider = YooKassaClient(settings.yookassa_shop_id or "",
                                  settings.yookassa_secret_key or "",
                                  api_url=settings.yookassa_api_url,
                                  timeout_s=settings.yookassa_timeout_s)
    elif local:
        provider = checkout = LocalCheckout()
        log.info("YOOKASSA_SHOP_ID is not set: local stand-in checkout at /dev/pay/<id>")
    else:
        return None
    links = PaymentLinks(db, clock.now, provider, settings.return_url)
    notifications = PaymentNotifications(
        db, clock.now, provider, lambda: kb_store.current, channel,
        settings.manager_ids, settings.payment_shop_opens_access,
        lambda peer_id: dialog_link(settings.vk_group_id, peer_id))
    return Payments(provider, links, notifications, checkout)


def _vk_channel(settings: Settings, local: bool,
                db: Database) -> tuple[OutboundChannel, Optional[VkHttpServer]]:
    """The VK sender: calls of concurrent turns batched into `execute` requests, paced by one
    budget for the community in PostgreSQL (shared by every process and replica)."""
    from app.vk.api import VkClient
    from app.vk.batching import BatchingChannel
    from app.vk.budget import PgBudget

    def batching(token: str, group_id: int, base_url: str) -> BatchingChannel:
        budget = PgBudget(lambda: db.engine, group_id, settings.vk_max_rps,
                          settings.web_concurrency)
        return BatchingChannel(VkClient(token, group_id, api_base_url=base_url,
                                        api_version=settings.vk_api_version,
                                        timeout_s=settings.vk_timeout_s, budget=budget))

    if settings.vk_configured:
        if not settings.vk_secret:
            log.warning("VK_SECRET is not set: anyone can post events to /vk/callback; set the "
                        "secret key of the Callback API server in VK and here")
        return batching(settings.vk_group_token or "", settings.vk_group_id or 0,
                        settings.vk_api_base_url), None
    if not local:  # a deployed app without a token: starts, stores, sends nothing
        log.warning("VK_GROUP_TOKEN is not set: replies cannot be sent until it is (the local "
                    "chat is only for LOCAL_MODE / make run)")
        return UnconfiguredChannel(), None
    from app.devchat.local_vk import start_local_vk

    local_vk = start_local_vk()
    log.info("VK_GROUP_TOKEN is not set: local VK stand-in at %s", local_vk.base_url)
    return batching(LOCAL_VK_TOKEN, settings.vk_group_id or 1, local_vk.base_url), local_vk
