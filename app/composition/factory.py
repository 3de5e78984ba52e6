"""`create_app`: settings → parts (`build`) → each adapter's `init_app` with its own deps.
No threads start here: `start_background(app)` starts them."""
from __future__ import annotations

import os
from typing import Callable, Optional

from flask import Flask

from app.brain.contract import Brain
from app.brain.prompts import PromptSet
from app.composition.background import Background
from app.composition.build import Parts, build, gemini_from, judge_from
from app.platform.clock import Clock
from app.platform.config import Settings
from app.vk.channel import CollectingChannel, OutboundChannel

KEY = "neuro"  # app.extensions[KEY] holds the Parts (gunicorn.conf.py looks for it)


def parts(app: Flask) -> Parts:
    """The parts of an app built by `create_app` (composition code and tests only)."""
    found: Parts = app.extensions[KEY]
    return found


def create_app(settings: Optional[Settings] = None, *, clock: Optional[Clock] = None,
               channel: Optional[OutboundChannel] = None,
               primary_brain: Optional[Brain] = None, lazy: Optional[bool] = None) -> Flask:
    from app.platform.logging import configure_logging
    from app.platform.runmode import is_local, require_vk_secret, secret_key

    settings = settings or Settings()
    configure_logging(settings.log_json)
    if lazy is None:
        lazy = bool(os.environ.get("FLASK_RUN_FROM_CLI"))
    local = is_local(settings)
    app = Flask("app", template_folder="admin/web/templates")
    app.config["SECRET_KEY"] = secret_key(settings, local, cli_run=lazy)
    require_vk_secret(settings, local, cli_run=lazy)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = settings.cookies_secure
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
    if settings.behind_proxy:  # the client's address for the login rate limit, https scheme
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]
    built = build(settings, clock or Clock(), lazy=lazy, local=local, channel=channel,
                  primary_brain=primary_brain)
    built.flask = app
    built.background = Background(built)
    app.extensions[KEY] = built
    _adapters(app, built)
    return app


def _adapters(app: Flask, p: Parts) -> None:
    """Each adapter's blueprint or commands, handed only what it uses."""
    from app import health
    from app.admin import cli as staff_cli
    from app.admin import web as admin_web
    from app.admin.web import is_logged_in
    from app.crm import cli as crm_cli
    from app.devchat import seed
    from app.eval import cli as eval_cli
    from app.hooks import payment, yookassa
    from app.reminders import cli as reminders_cli
    from app.reports import cli as reports_cli
    from app.vk.inbound import callback

    s = p.settings
    callback.init_app(app, callback.CallbackDeps(s, p.db, p.clock, p.channel, p.wake.set))
    health.init_app(app, health.HealthDeps(
        s, p.db, p.kb_store, p.channel, p.primary_brain.name, _background_health(p),
        lambda: bool(s.admin_password) and is_logged_in(s.admin_password)))
    payment.init_app(app, payment.PaymentHookDeps(p.db, p.kb_store, s.payment_webhook_secret))
    yookassa.init_app(app, yookassa.YooKassaHookDeps(
        p.payments.notifications if p.payments is not None else None))
    admin_web.init_app(app, admin_web.AdminDeps(s, p.db, p.clock, p.kb_store, p.channel,
                                                payments_enabled=p.payments is not None))
    if p.local_vk is not None:  # local mode only: never beside a real VK token
        from app.devchat import views as devchat

        devchat.init_app(app, devchat.DevchatDeps(s, p.db, p.clock, p.local_vk))
        if p.payments is not None and p.payments.local is not None:
            from app.devchat import pay as devpay

            devpay.init_app(app, devpay.DevPayDeps(p.payments.local, p.payments.notifications))
    staff_cli.init_app(app, staff_cli.StaffCliDeps(p.db, p.clock, p.kb_store))
    reports_cli.init_app(app, reports_cli.ReportsCliDeps(s, p.db, p.clock, p.kb_store))
    reminders_cli.init_app(app, reminders_cli.RemindersCliDeps(p.db))
    crm_cli.init_app(app, crm_cli.CrmCliDeps(p.db, p.clock, p.kb_store))
    seed.init_app(app, seed.SeedDeps(s, p.db, p.clock, p.kb_store))
    eval_cli.init_app(app, eval_cli.EvalCliDeps(s, lab_app, judge_from))


def _background_health(p: Parts) -> Callable[[], dict[str, dict[str, object]]]:
    def health() -> dict[str, dict[str, object]]:
        if p.background is None:
            return {"workers": {"threads": 0, "alive": 0}, "scheduler": {"running": False}}
        return p.background.health()
    return health


def lab_app(settings: Settings, *, clock: Clock, channel: CollectingChannel,
            prompts: PromptSet) -> Parts:
    """The eval lab's app: the lab's settings, clock and channel; Gemini (when configured)
    reading `prompts`, built by the same `gemini_from` as the app's."""
    app = create_app(settings, clock=clock, channel=channel,
                     primary_brain=gemini_from(settings, prompts), lazy=False)
    return parts(app)


def start_background(app: Flask) -> None:
    """Start this process' worker pool, leader and KB watcher (once)."""
    background = parts(app).background
    if background is not None:
        background.start()


def stop_background(app: Flask, drain_s: Optional[float] = None) -> int:
    """Graceful stop (SIGTERM, see gunicorn.conf.py): drain the turns, release the rest, close
    the parts. Returns how many turns were released."""
    p = parts(app)
    background = p.background or Background(p)
    released = background.stop(p.settings.shutdown_drain_s if drain_s is None else drain_s)
    p.shutdown()
    return released
