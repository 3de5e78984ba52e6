"""Assembling the services (DB, KB, channel, brains) and the blueprints for `create_app`, and
the separate, explicit step that starts the background parts (workers, scheduler, KB watcher)."""
from __future__ import annotations

import logging
from typing import Any, Optional

from flask import Flask

from app.brain.contract import Brain
from app.platform.clock import Clock
from app.platform.config import Settings
from app.platform.db import Database
from app.platform.migrate import embedded_url_at_head
from app.composition.services import Services
from app.runtime.inflight import InFlight
from app.vk.channel import OutboundChannel, UnconfiguredChannel

log = logging.getLogger(__name__)
LOCAL_VK_TOKEN = "local-dev-token"


def build_services(settings: Settings, clock: Clock, lazy: bool = False, local: bool = False,
                   channel: Optional[OutboundChannel] = None,
                   primary_brain: Optional[Brain] = None) -> Services:
    """`channel` / `primary_brain` replace the configured ones (tests, the eval runner)."""
    from app.brain.offline.brain import OfflineBrain
    from app.knowledge.base import KnowledgeStore
    from app.reminders.resolver import resolve

    url = settings.database_url or (lambda: embedded_url_at_head(settings.data_dir))
    # Workers hold a connection only briefly (never across a model call): a small pool
    # serves many threads and keeps processes × pool well under PostgreSQL's 100 connections.
    db = Database(url, pool_size=min(16, max(5, settings.worker_threads // 2 + 4)))
    kb_store = KnowledgeStore(settings.knowledge_base_path)
    if not lazy:
        kb_store.load()  # refuses to start only when there is no valid version at all
    offline = OfflineBrain(resolve_time=resolve)
    svc = Services(settings=settings, db=db, clock=clock, kb_store=kb_store,
                   channel=channel or UnconfiguredChannel(), inflight=InFlight(),
                   primary_brain=primary_brain or _primary_brain(settings) or offline,
                   offline_brain=offline)
    if channel is None and not (lazy and not settings.vk_configured):
        svc.channel = _vk_channel(settings, svc, local)  # CLI runs without a token need no stand-in
    return svc


def _primary_brain(settings: Settings) -> Optional[Brain]:
    if not settings.gemini_configured:
        log.info("GEMINI_API_KEY is not set: the offline rule-based brain answers")
        return None
    from app.brain.gemini.brain import GeminiBrain
    from app.brain.gemini.config import stage_configs

    return GeminiBrain(api_key=settings.gemini_api_key or "", base_url=settings.gemini_base_url,
                       analysis_model=settings.gemini_analysis_model,
                       reply_model=settings.gemini_reply_model,
                       timeout_s=settings.gemini_timeout_s,
                       kb_token_budget=settings.kb_context_token_budget,
                       stages=stage_configs(settings))


def _vk_channel(settings: Settings, svc: Services, local: bool) -> OutboundChannel:
    from app.vk.api import VkClient

    if settings.vk_configured:
        if not settings.vk_secret:
            log.warning("VK_SECRET is not set: anyone can post events to /vk/callback; set the "
                        "secret key of the Callback API server in VK and here")
        return VkClient(settings.vk_group_token or "", settings.vk_group_id or 0,
                        api_base_url=settings.vk_api_base_url,
                        api_version=settings.vk_api_version, timeout_s=settings.vk_timeout_s,
                        max_rps=settings.vk_max_rps / settings.web_concurrency)
    if not local:  # a deployed app without a token: starts, stores, sends nothing
        log.warning("VK_GROUP_TOKEN is not set: replies cannot be sent until it is (the local "
                    "chat is only for LOCAL_MODE / make run)")
        return UnconfiguredChannel()
    from app.devchat.local_vk import start_local_vk

    svc.local_vk = start_local_vk()
    log.info("VK_GROUP_TOKEN is not set: local VK stand-in at %s", svc.local_vk.base_url)
    return VkClient(LOCAL_VK_TOKEN, settings.vk_group_id or 1,
                    api_base_url=svc.local_vk.base_url,
                    api_version=settings.vk_api_version, timeout_s=settings.vk_timeout_s)


def register_blueprints(app: Flask, svc: Services) -> None:
    from app import health
    from app.admin import cli
    from app.admin.web import views as admin_web
    from app.hooks import payment as payments
    from app.vk.inbound import callback

    for bp in (callback.bp, health.bp, payments.bp, admin_web.bp):
        app.register_blueprint(bp)
    if svc.local_vk is not None:  # local mode only: never beside a real VK token
        from app.devchat import views as devchat

        app.register_blueprint(devchat.bp)
    cli.register(app)


def start_background(svc: Services) -> None:
    """Start the worker pool, the reminder scheduler and the KB watcher of this process.
    Called by the gunicorn hook (`gunicorn.conf.py`) and `make run`, never by `create_app`."""
    from app.runtime.kb_watcher import KbWatcher
    from app.runtime.workers import WorkerPool

    svc.kb_watcher = KbWatcher(svc)
    svc.kb_watcher.start()
    if svc.settings.worker_threads > 0:
        svc.workers = WorkerPool(svc, svc.settings.worker_threads, svc.settings.worker_poll_s)
        svc.workers.start()
    if svc.settings.run_scheduler:
        from app.runtime.leader import ReminderScheduler
        from app.turns.proactive import fire_due

        svc.scheduler = ReminderScheduler(svc, fire_due)
        svc.scheduler.start()


def stop_background(svc: Services, drain_s: float) -> int:
    """Graceful stop (SIGTERM): stop claiming, let turns that end within `drain_s` finish, and
    release the rest to the next process at once. Returns how many turns were released."""
    from app.turns import claims

    for part in (svc.scheduler, svc.workers):
        if part is not None:
            part.stop(wait=False)
    svc.scheduler = svc.workers = None  # not joined: released turns are abandoned, not awaited

    def release(leases: list[Any]) -> None:
        with svc.db.session() as s:
            claims.release(s, [lease.turn_id for lease in leases], svc.clock.now())

    released = svc.inflight.drain(drain_s, release)
    svc.shutdown()
    return released
