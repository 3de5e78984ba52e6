"""The service container: one per app, built by `app.composition.build`, read by views, CLI and workers.

Typed: every part has its interface here (imports for type checking only, so this module can be
imported by any package without cycles).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from flask import Flask, current_app
from sqlalchemy.orm import Session

from app.platform.clock import Clock
from app.platform.config import Settings
from app.platform.db import Database

if TYPE_CHECKING:
    from app.brain.contract import Brain
    from app.devchat.vk_http import VkHttpServer
    from app.runtime.kb_watcher import KbWatcher
    from app.knowledge.base import KnowledgeStore
    from app.payments import Payments
    from app.runtime.leader import ReminderScheduler
    from app.runtime.inflight import InFlight
    from app.runtime.workers import WorkerPool
    from app.vk.channel import OutboundChannel


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock
    kb_store: KnowledgeStore
    channel: OutboundChannel
    primary_brain: Brain
    offline_brain: Brain
    inflight: InFlight
    payments: Optional[Payments] = None  # None: no provider (the KB's product URL, as before)
    local_vk: Optional[VkHttpServer] = None  # local mode only: the loopback VK stand-in
    workers: Optional[WorkerPool] = None  # started by `start_background`, never by create_app
    scheduler: Optional[ReminderScheduler] = None
    kb_watcher: Optional[KbWatcher] = None
    wake: threading.Event = field(default_factory=threading.Event)

    def wake_workers(self) -> None:
        self.wake.set()

    def bot_paused(self, s: Session) -> bool:
        """The global switch of `flask bot pause|resume` (shared by all processes)."""
        from app.models import AppState

        return AppState.flag(s, "bot_paused")

    def shutdown(self) -> None:
        for part in (self.scheduler, self.workers, self.kb_watcher):
            if part is not None:
                part.stop()
        if self.payments is not None:
            self.payments.shutdown()
        if self.local_vk is not None:
            self.local_vk.stop()
        self.db.dispose()


def services(app: Optional[Flask] = None) -> Services:
    return (app or current_app).extensions["neuro"]
