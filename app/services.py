"""The service container: one per app, built by `create_app`, read by views, CLI and workers."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Optional

from flask import current_app

from app.clock import Clock
from app.config import Settings
from app.db import Database
from app.vk.inbox import InboxSettings


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock
    kb_store: Any = None  # app.knowledge.base.KnowledgeStore
    vk: Any = None  # app.vk.client.VkClient
    primary_brain: Any = None  # GeminiBrain or OfflineBrain
    offline_brain: Any = None
    workers: Any = None  # app.brain.workers.WorkerPool
    scheduler: Any = None  # app.reminders.scheduler.ReminderScheduler
    vk_emulator: Any = None  # local mode only
    kb_watcher: Any = None
    wake: threading.Event = field(default_factory=threading.Event)

    @property
    def inbox_settings(self) -> InboxSettings:
        return InboxSettings(
            debounce_seconds=self.settings.debounce_seconds,
            handoff_pause_hours=self.settings.handoff_pause_hours,
            default_timezone=self.settings.school_timezone,
            manager_ids=frozenset(self.settings.manager_ids),
        )

    def wake_workers(self) -> None:
        self.wake.set()

    def bot_paused(self, s: Any) -> bool:
        """The global switch of `flask bot pause|resume` (shared by all processes)."""
        from app.models import AppState

        row = s.get(AppState, "bot_paused")
        return row is not None and row.value == "1"

    def run_brain(self, ctx: Any, apply_effects: Any) -> Any:
        from app.brain.engine import run_brain

        return run_brain(ctx, self.primary_brain, self.offline_brain, apply_effects)

    def apply_effects(self, ctx: Any, state: Any, analysis: Any) -> Any:
        from app.brain.effects import apply_effects

        return apply_effects(self, ctx, state, analysis)

    def shutdown(self) -> None:
        for part in (self.scheduler, self.workers, self.kb_watcher):
            if part is not None:
                part.stop()
        if self.vk_emulator is not None and hasattr(self.vk_emulator, "stop"):
            self.vk_emulator.stop()
        self.db.dispose()


def services(app: Optional[Any] = None) -> Services:
    return (app or current_app).extensions["neuro"]
