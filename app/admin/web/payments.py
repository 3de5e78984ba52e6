"""/admin/payments: payment links and paid orders still waiting for course access («Доступ
открыт» marks one). Reads the panel's deps (`AdminDeps`: `payments_enabled` says whether a
provider is configured)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask import flash, redirect, render_template, url_for

from app.admin.web.deps import panel
from app.admin.web.views import bp
from app.models import PaymentStatus
from app.payments import panel as payment_panel

if TYPE_CHECKING:
    from flask.typing import ResponseReturnValue


@bp.get("/payments")
def payments() -> ResponseReturnValue:
    deps = panel()
    with deps.db.session() as s:
        waiting, links = payment_panel.awaiting_access(s), payment_panel.recent_links(s)
    paid = sum(1 for r in links if r["status"] == PaymentStatus.SUCCEEDED)
    return render_template("admin/payments.html", waiting=waiting, links=links,
                           enabled=deps.payments_enabled, paid=paid)


@bp.post("/payments/<int:link_id>/access-opened")
def payment_access_opened(link_id: int) -> ResponseReturnValue:
    deps = panel()
    with deps.db.session() as s:
        ok, message = payment_panel.mark_access_opened(s, link_id, deps.clock.now())
    flash(message, "ok" if ok else "error")
    return redirect(url_for("admin_web.payments"))
