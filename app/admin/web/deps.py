"""What the staff panel uses, handed in by the composition (`init_app`)."""
from __future__ import annotations

from dataclasses import dataclass

from app.knowledge.base import KnowledgeStore
from app.platform.clock import Clock
from app.platform.config import Settings
from app.platform.db import Database
from app.platform.deps import deps_of
from app.vk.channel import OutboundChannel


@dataclass(frozen=True)
class AdminDeps:
    settings: Settings
    db: Database
    clock: Clock
    kb_store: KnowledgeStore
    channel: OutboundChannel  # staff messages to clients


def panel() -> AdminDeps:
    """The panel's deps (views only: they run inside a request)."""
    return deps_of(AdminDeps)
