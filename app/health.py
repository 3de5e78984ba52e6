"""GET /healthz: DB reachable, knowledge base in use, workers, scheduler, VK errors."""
from __future__ import annotations

from flask import Blueprint, jsonify

from app.services import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # noqa: ANN201 - Flask view
    svc = services()
    db_ok = svc.db.ping()
    kb = svc.kb_store
    body = {
        "status": "ok" if db_ok else "error",
        "database": "ok" if db_ok else "unreachable",
        "knowledge_base": {
            "loaded": kb.loaded,
            "version": kb.current.version if kb.loaded else None,
            "errors_on_disk": list(kb.last_errors)[:20],
        },
        "brain": getattr(svc.primary_brain, "name", None),
        "workers": svc.workers.health() if svc.workers else {"threads": 0, "alive": 0},
        "scheduler": svc.scheduler.health() if svc.scheduler else {"running": False},
        "vk": svc.channel.health(),
        "warnings": _warnings(svc),
    }
    return jsonify(body), 200 if db_ok else 503


def _warnings(svc) -> list[str]:  # noqa: ANN001
    settings, out = svc.settings, []
    if settings.vk_configured and not settings.vk_secret:
        out.append("VK_SECRET is not set: callback events are not authenticated")
    if not settings.manager_ids:
        out.append("MANAGER_PEER_IDS is empty: escalations reach nobody")
    return out
