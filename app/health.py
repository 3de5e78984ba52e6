"""GET /healthz: DB reachable, knowledge base in use, workers, scheduler, VK.

Anyone gets the states (ok/error, counts, versions, whether the VK token is set); the error
texts and configuration warnings (which could help an attacker) only a logged-in staff member."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from flask import Blueprint, Flask, Response, jsonify

from app.knowledge.base import KnowledgeStore
from app.platform.config import Settings
from app.platform.db import Database
from app.platform.deps import deps_of, install
from app.vk.channel import OutboundChannel

bp = Blueprint("health", __name__)
DETAIL_KEYS = ("last_error", "errors_on_disk", "warnings")


@dataclass(frozen=True)
class HealthDeps:
    """The probes /healthz reads, handed in by the composition."""

    settings: Settings
    db: Database
    kb_store: KnowledgeStore
    channel: OutboundChannel
    brain: str  # the primary brain's name
    background: Callable[[], dict[str, dict[str, Any]]]  # {"workers": …, "scheduler": …}
    is_staff: Callable[[], bool]  # a logged-in staff member sees the error texts


def init_app(app: Flask, deps: HealthDeps) -> None:
    install(app, deps)
    app.register_blueprint(bp)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    deps = deps_of(HealthDeps)
    db_ok = deps.db.ping()
    body: object = _full(deps, db_ok)
    if not (db_ok and deps.is_staff()):
        body = _public(body)
    return jsonify(body), 200 if db_ok else 503


def _full(deps: HealthDeps, db_ok: bool) -> dict[str, Any]:
    kb = deps.kb_store
    vk = dict(deps.channel.health())
    vk["token"] = "ok" if deps.settings.vk_configured else "missing"
    return {
        "status": "ok" if db_ok else "error",
        "database": "ok" if db_ok else "unreachable",
        "knowledge_base": {
            "loaded": kb.loaded,
            "version": kb.current.version if kb.loaded else None,
            "errors_on_disk": list(kb.last_errors)[:20],
        },
        "brain": deps.brain,
        **deps.background(),
        "vk": vk,
        "warnings": _warnings(deps.settings),
    }


def _public(value: object) -> object:
    """States only: every error text or warning becomes a flag or a count."""
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "last_error":
            out["has_error"] = bool(item)
        elif key in DETAIL_KEYS:
            out[f"{key}_count"] = len(item or [])
        else:
            out[key] = _public(item)
    return out


def _warnings(settings: Settings) -> list[str]:
    out: list[str] = []
    if not settings.vk_configured:
        out.append("VK_GROUP_TOKEN is not set: replies cannot be sent to VK")
    if settings.vk_configured and not settings.vk_secret:
        out.append("VK_SECRET is not set: callback events are not authenticated")
    if not settings.manager_ids:
        out.append("MANAGER_PEER_IDS is empty: escalations reach nobody")
    return out
