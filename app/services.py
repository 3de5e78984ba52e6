"""The service container: one per app, built by `app.wiring`, read by views, CLI and workers.

Typed: every part has its interface here (imports for type checking only, so this module can be
imported by any package without cycles).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from flask import Flask, current_app
from sqlalchemy.orm import Session

from app.clock import Clock
from app.config import Settings
from app.db import Database

if TYPE_CHECKING:
    from app.brain.types import Brain
    from app.devchat.vk_http import VkHttpServer
    from app.kb_sync import KbWatcher
    from app.knowledge.base import KnowledgeStore
    from app.reminders.scheduler import ReminderScheduler
    from app.turns.inflight import InFlight
    from app.turns.workers import WorkerPool
    from app.vk.channel import OutboundChannel
    from app.vk.group_commit import GroupCommitter


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
    local_vk: Optional[VkHttpServer] = None  # local mode only: the loopback VK stand-in
    workers: Optional[WorkerPool] = None  # started by `start_background`, never by create_app
    scheduler: Optional[ReminderScheduler] = None
    kb_watcher: Optional[KbWatcher] = None
    inbox_writer: Optional[GroupCommitter] = None  # WEBHOOK_GROUP_COMMIT=on: batched inserts
    wake: threading.Event = field(default_factory=threading.Event)

    def wake_workers(self) -> None:
        self.wake.set()

    def bot_paused(self, s: Session) -> bool:
        """The global switch of `flask bot pause|resume` (shared by all processes)."""
        from app.models import AppState

        return AppState.flag(s, "bot_paused")

    def shutdown(self) -> None:
        for part in (self.scheduler, self.workers, self.kb_watcher, self.inbox_writer):
            if part is not None:
                part.stop()
        if self.local_vk is not None:
            self.local_vk.stop()
        self.db.dispose()


def services(app: Optional[Flask] = None) -> Services:
    return (app or current_app).extensions["neuro"]
