"""/admin/payments: payment links and paid orders still waiting for course access («Доступ
открыт» marks one). The payments part's own deps (`app.payments.PanelDeps`) are handed in by
the wiring (`init_app`), not taken from the service container."""
from __future__ import annotations

from typing import Any

from flask import Flask, abort, current_app, flash, redirect, render_template, url_for

from app.admin.web.views import bp
from app.payments import PanelDeps
from app.payments import panel

EXTENSION = "payments_panel"


def init_app(app: Flask, deps: PanelDeps) -> None:
    app.extensions[EXTENSION] = deps


def _deps() -> PanelDeps:
    deps = current_app.extensions.get(EXTENSION)
    if deps is None:
        abort(404)
    return deps


@bp.get("/payments")
def payments() -> Any:
    deps = _deps()
    with deps.db.session() as s:
        waiting, links = panel.awaiting_access(s), panel.recent_links(s)
    paid = sum(1 for r in links if r["status"] == "succeeded")
    return render_template("admin/payments.html", waiting=waiting, links=links,
                           enabled=deps.enabled, paid=paid)


@bp.post("/payments/<int:link_id>/access-opened")
def payment_access_opened(link_id: int) -> Any:
    deps = _deps()
    with deps.db.session() as s:
        ok, message = panel.mark_access_opened(s, link_id, deps.now())
    flash(message, "ok" if ok else "error")
    return redirect(url_for("admin_web.payments"))
