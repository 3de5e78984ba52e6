"""GET /healthz: DB reachable, knowledge base in use, workers, scheduler, VK.

Anyone gets the states (ok/error, counts, versions, whether the VK token is set); the error
texts and configuration warnings (which could help an attacker) only a logged-in staff member."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from app.composition.services import services

bp = Blueprint("health", __name__)
DETAIL_KEYS = ("last_error", "errors_on_disk", "warnings")


@bp.get("/healthz")
def healthz():  # noqa: ANN201 - Flask view
    svc = services()
    db_ok = svc.db.ping()
    body = _full(svc, db_ok)
    if not (db_ok and _staff(svc)):
        body = _public(body)
    return jsonify(body), 200 if db_ok else 503


def _full(svc: Any, db_ok: bool) -> dict[str, Any]:
    kb = svc.kb_store
    vk = dict(svc.channel.health())
    vk["token"] = "ok" if svc.settings.vk_configured else "missing"
    return {
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
        "vk": vk,
        "warnings": _warnings(svc),
    }


def _public(value: Any) -> Any:
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


def _staff(svc: Any) -> bool:
    from app.admin.web.auth import is_logged_in

    return bool(svc.settings.admin_password) and is_logged_in(svc.settings.admin_password)


def _warnings(svc: Any) -> list[str]:
    settings, out = svc.settings, []
    if not settings.vk_configured:
        out.append("VK_GROUP_TOKEN is not set: replies cannot be sent to VK")
    if settings.vk_configured and not settings.vk_secret:
        out.append("VK_SECRET is not set: callback events are not authenticated")
    if not settings.manager_ids:
        out.append("MANAGER_PEER_IDS is empty: escalations reach nobody")
    return out
