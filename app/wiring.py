"""Assembling the services (DB, KB, VK, brains, workers) and the blueprints for `create_app`."""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from app.clock import Clock
from app.config import Settings
from app.db import Database
from app.migrate import embedded_url_at_head
from app.services import Services

log = logging.getLogger(__name__)
LOCAL_VK_TOKEN = "local-dev-token"


def build_services(settings: Settings, clock: Clock, lazy: bool = False,
                   **overrides: Any) -> Services:
    from app.brain.offline import OfflineBrain
    from app.knowledge.base import KnowledgeStore

    url = settings.database_url or (lambda: embedded_url_at_head(settings.data_dir))
    # Workers hold a connection only briefly (never across a model call): a small pool
    # serves many threads and keeps processes × pool well under PostgreSQL's 100 connections.
    db = Database(url, pool_size=min(16, max(5, settings.worker_threads // 2 + 4)))
    kb_store = KnowledgeStore(settings.knowledge_base_path)
    if not lazy:
        kb_store.load()  # refuses to start only when there is no valid version at all
    svc = Services(settings=settings, db=db, clock=clock, kb_store=kb_store)
    svc.offline_brain = OfflineBrain()
    svc.primary_brain = _primary_brain(settings) or svc.offline_brain
    if "vk" not in overrides and not (lazy and not settings.vk_configured):
        svc.vk = _vk_client(settings, svc)  # CLI runs without a token need no VK stand-in
    for key, value in overrides.items():
        setattr(svc, key, value)
    return svc


def _primary_brain(settings: Settings) -> Any:
    if not settings.gemini_configured:
        log.info("GEMINI_API_KEY is not set: the offline rule-based brain answers")
        return None
    from app.brain.gemini import GeminiBrain

    return GeminiBrain(api_key=settings.gemini_api_key, base_url=settings.gemini_base_url,
                       analysis_model=settings.gemini_analysis_model,
                       reply_model=settings.gemini_reply_model,
                       timeout_s=settings.gemini_timeout_s)


def _vk_client(settings: Settings, svc: Services) -> Any:
    from app.vk.client import VkClient

    if settings.vk_configured:
        if not settings.vk_secret:
            log.warning("VK_SECRET is not set: anyone can post events to /vk/callback; set the "
                        "secret key of the Callback API server in VK and here")
        return VkClient(settings.vk_group_token, settings.vk_group_id or 0,
                        api_base_url=settings.vk_api_base_url,
                        api_version=settings.vk_api_version, timeout_s=settings.vk_timeout_s,
                        max_rps=settings.vk_max_rps / settings.web_concurrency)
    from app.devchat.local_vk import start_local_vk

    svc.vk_emulator = start_local_vk()
    log.info("VK_GROUP_TOKEN is not set: local VK stand-in at %s", svc.vk_emulator.base_url)
    return VkClient(LOCAL_VK_TOKEN, settings.vk_group_id or 1,
                    api_base_url=svc.vk_emulator.base_url,
                    api_version=settings.vk_api_version, timeout_s=settings.vk_timeout_s)


def register_blueprints(app: Flask, svc: Services) -> None:
    from app import health
    from app.admin import cli
    from app.admin.web import views as admin_web
    from app.crm import payments
    from app.vk import callback

    for bp in (callback.bp, health.bp, payments.bp, admin_web.bp):
        app.register_blueprint(bp)
    if svc.vk_emulator is not None:  # local mode only: never beside a real VK token
        from app.devchat import views as devchat

        app.register_blueprint(devchat.bp)
    cli.register(app)


def start_background_parts(svc: Services) -> None:
    from app.brain.workers import WorkerPool
    from app.knowledge.reload import KbWatcher

    svc.kb_watcher = KbWatcher(svc)
    svc.kb_watcher.start()
    if svc.settings.worker_threads > 0:
        svc.workers = WorkerPool(svc, svc.settings.worker_threads, svc.settings.worker_poll_s)
        svc.workers.start()
    if svc.settings.run_scheduler:
        from app.reminders.scheduler import ReminderScheduler

        svc.scheduler = ReminderScheduler(svc)
        svc.scheduler.start()
