"""`TurnRunner`: the turns' collaborators, handed in by the composition, and the two jobs the
runtime is fed (run a claimed turn; fire the due reminders)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from app.brain.contract import Brain
from app.crm.alerts import ManagerAlerts
from app.knowledge.base import KnowledgeStore
from app.models import AppState
from app.platform.clock import Clock
from app.platform.config import Settings
from app.platform.db import Database
from app.runtime import InFlight
from app.turns import pipeline, proactive
from app.turns.claims import Claim, Claims
from app.vk.channel import OutboundChannel


class TurnRunner:
    """Context → brain → effects → store → send, for one claimed turn at a time (any thread)."""

    def __init__(self, db: Database, clock: Clock, kb: KnowledgeStore, primary: Brain,
                 offline: Brain, channel: OutboundChannel, alerts: ManagerAlerts,
                 claims: Claims, inflight: InFlight, cfg: Settings) -> None:
        self.db, self.clock, self.kb = db, clock, kb
        self.primary, self.offline, self.channel = primary, offline, channel
        self.alerts, self.claims, self.inflight, self.cfg = alerts, claims, inflight, cfg

    @staticmethod
    def bot_paused(s: Session) -> bool:
        """The global switch of `flask bot pause|resume` (shared by all processes)."""
        return AppState.flag(s, "bot_paused")

    def process(self, claim: Claim) -> str:
        """Run one claimed turn to its end (see `pipeline.process_claim`)."""
        return pipeline.process_claim(self, claim)

    def fire_due(self, limit: int = 100) -> int:
        """Handle the due reminders as proactive turns; returns how many were handled."""
        return proactive.fire_due(self, limit)
