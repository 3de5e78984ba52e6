"""/admin/purchases/unmatched: orders that matched only a contact a client typed in chat.
One click attaches an order to a candidate (`crm.unmatched.confirm`) or drops it (`dismiss`)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask import flash, redirect, render_template, request, url_for

from app.admin.web.deps import panel
from app.admin.web.views import bp
from app.crm.purchases import unmatched

if TYPE_CHECKING:
    from flask.typing import ResponseReturnValue


@bp.get("/purchases/unmatched")
def unmatched_orders() -> ResponseReturnValue:
    with panel().db.session() as s:
        rows = unmatched.waiting(s)
    return render_template("admin/unmatched.html", rows=rows)


@bp.post("/purchases/unmatched/<int:unmatched_id>/<any(confirm, dismiss):action>")
def unmatched_action(unmatched_id: int, action: str) -> ResponseReturnValue:
    deps = panel()
    with deps.db.session() as s:
        if action == "confirm":
            client_id = request.form.get("client_id", 0, type=int) or 0
            ok, message = unmatched.confirm(s, unmatched_id, client_id, deps.clock.now())
        else:
            ok, message = unmatched.dismiss(s, unmatched_id, deps.clock.now())
    flash(message, "ok" if ok else "error")
    return redirect(url_for("admin_web.unmatched_orders"))
