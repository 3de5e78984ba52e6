"""/admin: the staff panel. Thin views: queries.py reads, actions.py writes, auth.py guards."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable, Optional
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for

from app.admin.web import actions, auth, queries
from app.admin.web.deps import panel
from app.models import FUNNEL_STAGES, AppState, FunnelStage, ReminderStatus, TurnKind, TurnStatus
from app.platform.textsafe import storable

if TYPE_CHECKING:
    from flask.typing import ResponseReturnValue

bp = Blueprint("admin_web", __name__, url_prefix="/admin")
STAGE_LABELS = FunnelStage.labels()
TURN_STATUS = TurnStatus.labels()
TURN_KINDS = TurnKind.labels()
REMINDER_STATUS = ReminderStatus.labels()
OPEN_ENDPOINTS = ("admin_web.login",)


def _error(title: str, message: str, status: int) -> ResponseReturnValue:
    return render_template("admin/error.html", title=title, message=message), status


@bp.errorhandler(404)
def _not_found(_exc: Exception) -> ResponseReturnValue:
    return _error("Не найдено", "Такой страницы или записи нет.", 404)


@bp.before_request
def guard() -> Optional[ResponseReturnValue]:
    deps = panel()
    g.admin = False
    password = deps.settings.admin_password
    if not password:
        return _error("Панель отключена", "панель отключена: задайте ADMIN_PASSWORD", 503)
    if request.endpoint not in OPEN_ENDPOINTS:
        if not auth.is_logged_in(password):
            return redirect(url_for("admin_web.login", next=request.full_path.rstrip("?")))
        g.admin = True
        with deps.db.session() as s:
            g.bot_paused = AppState.flag(s, "bot_paused")
    if request.method == "POST" and not auth.csrf_ok():
        return _error("Форма устарела", "Ошибка проверки формы (CSRF-токен не совпал): "
                      "обновите страницу и повторите действие.", 400)
    if request.method == "POST" and not _storable(request.form.values()):
        return _error("Недопустимые символы", "В форме есть символы, которые нельзя сохранить "
                      "(например, нулевой символ). Уберите их и повторите.", 400)
    return None


def _storable(values: Iterable[str]) -> bool:
    """PostgreSQL stores neither NUL characters nor lone surrogates."""
    return all(storable(value) for value in values)


@bp.context_processor
def _template_globals() -> dict[str, Any]:
    return {"csrf_token": auth.csrf_token, "STAGE_LABELS": STAGE_LABELS,
            "TURN_STATUS": TURN_STATUS, "TURN_KINDS": TURN_KINDS, "REMINDER_STATUS": REMINDER_STATUS,
            "FUNNEL_STAGES": FUNNEL_STAGES, "STATUS_LABELS": queries.STATUS_LABELS,
            "devchat_url": "/dev/chat" if "devchat.page" in current_app.view_functions else None}


@bp.app_template_filter("admin_dt")
def _format_dt(value: Optional[datetime], tz: Optional[str] = None) -> str:
    """Aware datetime or ISO string → '25.11.2026 14:30' in `tz` (default: the school's)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    zone = ZoneInfo(tz or panel().settings.school_timezone)
    return value.astimezone(zone).strftime("%d.%m.%Y %H:%M")


@bp.app_template_filter("media_view")
def _media_view(attachments: object) -> list[dict[str, Any]]:
    """What a client sent besides text, for the timeline: a note and a thumbnail URL."""
    from app.vk.inbound.attachments import Photo, from_stored, note

    return [{"note": note(m), "thumb": m.thumb_url if isinstance(m, Photo) else None}
            for m in from_stored(attachments)]


def _safe_next(target: Optional[str]) -> str:
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return url_for("admin_web.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    deps, ip = panel(), auth.client_ip()
    limiter = auth.limiter()
    if limiter.blocked(ip):
        return render_template("admin/login.html", error="Слишком много неудачных попыток. "
                               "Подождите 5 минут."), 429
    if request.method == "GET":
        return render_template("admin/login.html", error=None)
    if not limiter.attempt(ip):  # counted before the check: parallel tries cannot slip past
        return render_template("admin/login.html", error="Слишком много неудачных попыток. "
                               "Подождите 5 минут."), 429
    if auth.password_ok(request.form.get("password", ""), deps.settings.admin_password):
        limiter.reset(ip)
        auth.log_in(deps.settings.admin_password or "")
        current_app.logger.info("admin: login from %s", ip)
        return redirect(_safe_next(request.args.get("next")))
    current_app.logger.warning("admin: failed login from %s", ip)
    return render_template("admin/login.html", error="Неверный пароль"), 401


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    auth.log_out()
    return redirect(url_for("admin_web.login"))


@bp.get("/")
def index() -> ResponseReturnValue:
    deps = panel()
    stage = request.args.get("stage") if request.args.get("stage") in FUNNEL_STAGES else None
    needs_human = request.args.get("needs_human") == "1"
    page = request.args.get("page", 1, type=int) or 1
    page = max(page, 1)
    with deps.db.session() as s:
        rows, total = queries.dialogs_page(s, deps.clock.now(), g.bot_paused, stage,
                                           needs_human, page)
    pages = max(1, -(-total // queries.PAGE_SIZE))
    return render_template("admin/dialogs.html", rows=rows, total=total, page=page, pages=pages,
                           stage=stage, needs_human=needs_human)


def _render_dialog(dialog_id: int, draft: str = "", send_key: str = "",
                   status: int = 200) -> ResponseReturnValue:
    deps = panel()
    with deps.db.session() as s:
        view = queries.dialog_timeline(s, dialog_id)
        if view is None:
            abort(404)
        state = queries.dialog_status(view["client"], view["dialog"], deps.clock.now(),
                                      g.bot_paused)
        return render_template("admin/dialog.html", v=view, state=state, draft=draft,
                               send_key=send_key or actions.new_send_key(),
                               now=deps.clock.now(),
                               pause_hours=deps.settings.handoff_pause_hours), status


@bp.get("/dialogs/<int:dialog_id>")
def dialog(dialog_id: int) -> ResponseReturnValue:
    return _render_dialog(dialog_id)


@bp.post("/dialogs/<int:dialog_id>/<any(pause, resume, resolve):action>")
def dialog_action(dialog_id: int, action: str) -> ResponseReturnValue:
    run = {"pause": actions.pause_dialog, "resume": actions.resume_dialog,
           "resolve": actions.resolve_needs_human}[action]
    outcome = run(panel(), dialog_id)
    flash(outcome.message, "ok" if outcome.ok else "error")
    return redirect(url_for("admin_web.dialog", dialog_id=dialog_id))


@bp.post("/dialogs/<int:dialog_id>/send")
def dialog_send(dialog_id: int) -> ResponseReturnValue:
    text, key = request.form.get("text", ""), request.form.get("send_key", "")
    outcome = actions.send_staff_message(panel(), dialog_id, text, key)
    if outcome.ok:
        flash(outcome.message, "ok")
        return redirect(url_for("admin_web.dialog", dialog_id=dialog_id))
    flash(outcome.message, "error")
    return _render_dialog(dialog_id, draft=text, send_key=key, status=outcome.status)


def _render_client(vk_id: int, form: Optional[dict[str, Any]] = None,
                   errors: Optional[dict[str, str]] = None,
                   status: int = 200) -> ResponseReturnValue:
    deps = panel()
    with deps.db.session() as s:
        card = queries.client_card(s, vk_id, deps.kb_store.current, deps.clock.now(),
                                   deps.settings.vk_reply_window_hours)
        if card is None:
            abort(404)
        return render_template("admin/client.html", c=card, form=form, errors=errors or {},
                               now=deps.clock.now()), status


@bp.route("/clients/<int:vk_id>", methods=["GET", "POST"])
def client(vk_id: int) -> ResponseReturnValue:
    if request.method == "GET":
        return _render_client(vk_id)
    outcome = actions.update_card(panel(), vk_id, request.form)
    if outcome.errors:
        flash(outcome.message, "error")
        return _render_client(vk_id, form=request.form.to_dict(), errors=outcome.errors,
                              status=400)
    flash(outcome.message, "ok" if outcome.ok else "error")
    return redirect(url_for("admin_web.client", vk_id=vk_id))


@bp.post("/clients/<int:vk_id>/reminders/<int:reminder_id>/<any(cancel, reschedule):action>")
def reminder_action(vk_id: int, reminder_id: int, action: str) -> ResponseReturnValue:
    deps = panel()
    if action == "cancel":
        outcome = actions.cancel_reminder(deps, vk_id, reminder_id)
    else:
        outcome = actions.reschedule_reminder(deps, vk_id, reminder_id,
                                              request.form.get("due_local", ""))
    flash(outcome.message, "ok" if outcome.ok else "error")
    return redirect(url_for("admin_web.client", vk_id=vk_id) + "#reminders")


@bp.get("/kb")
def kb() -> ResponseReturnValue:
    deps = panel()
    status = queries.kb_status(deps.kb_store, deps.settings.knowledge_base_path)
    return render_template("admin/kb.html", kb=status)


@bp.post("/kb/reload")
def kb_reload() -> ResponseReturnValue:
    from app.runtime import request_reload

    result = request_reload(panel().kb_store, panel().db)
    if result.ok:
        flash(f"База знаний {'обновлена' if result.changed else 'без изменений'}: версия "
              f"{result.version}", "ok")
    else:
        flash(f"Файл с ошибками ({len(result.errors)}), оставлена версия {result.version}: "
              + "; ".join(result.errors[:3]), "error")
    return redirect(url_for("admin_web.kb"))


@bp.get("/dashboard")
def dashboard() -> ResponseReturnValue:
    from app.admin.web.owner import owner_view, parse_days
    from app.reports.summary import ReportSettings, summary_for

    try:
        days = parse_days(request.args.get("days"))
    except ValueError as exc:
        return _error("Неверный период", str(exc), 400)
    deps = panel()
    with deps.db.session() as s:
        data = queries.dashboard(s, deps.clock.now(), deps.settings.school_timezone)
    return render_template("admin/dashboard.html", d=data,
                           o=owner_view(summary_for(deps.db, deps.clock.now(),
                                                    ReportSettings.of(deps.settings),
                                                    deps.kb_store, days),
                                        days, STAGE_LABELS))


from app.admin.web import eval_runs as _eval_runs  # noqa: E402,F401 - registers /admin/eval
from app.admin.web import orders as _orders  # noqa: E402,F401 - registers /admin/purchases/unmatched
from app.admin.web import payments as _payments  # noqa: E402,F401 - registers /admin/payments
