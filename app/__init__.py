"""«Нейросотрудник»: the app factory. Importing this package has no side effects, and neither
does `create_app`: it wires settings, services, blueprints and CLI, and starts no threads.
The worker pool, scheduler and KB watcher are started by `start_background(app)` — called by
the gunicorn hook (gunicorn.conf.py) and `make run` — so `flask …` commands and tests never
start them by accident."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # importing `app` (e.g. for app.brain) must not pull in Flask or the DB
    from flask import Flask

    from app.brain.contract import Brain
    from app.platform.clock import Clock
    from app.platform.config import Settings
    from app.vk.channel import OutboundChannel

log = logging.getLogger(__name__)


def create_app(settings: Optional[Settings] = None, *, clock: Optional[Clock] = None,
               channel: Optional[OutboundChannel] = None,
               primary_brain: Optional[Brain] = None, lazy: Optional[bool] = None) -> Flask:
    """Build the app. `channel` / `primary_brain` replace the configured VK channel and model
    (tests, the eval runner); `lazy` defers loading the KB (CLI runs)."""
    import os

    from flask import Flask

    from app.platform.clock import Clock
    from app.platform.config import Settings
    from app.platform.logging import configure_logging
    from app.platform.runmode import is_local, require_vk_secret, secret_key
    from app.composition.build import build_services, register_blueprints

    settings = settings or Settings()
    configure_logging(settings.log_json)
    if lazy is None:
        lazy = bool(os.environ.get("FLASK_RUN_FROM_CLI"))
    local = is_local(settings)
    app = Flask(__name__, template_folder="admin/web/templates")
    app.config["SECRET_KEY"] = secret_key(settings, local, cli_run=lazy)
    require_vk_secret(settings, local, cli_run=lazy)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = settings.cookies_secure
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
    if settings.behind_proxy:  # the client's address for the login rate limit, https scheme
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]
    svc = build_services(settings, clock or Clock(), lazy=lazy, local=local, channel=channel,
                         primary_brain=primary_brain)
    app.extensions["neuro"] = svc
    register_blueprints(app, svc)
    return app


def start_background(app: Flask) -> None:
    """Start this process' worker pool, reminder scheduler and KB watcher (once)."""
    from app.composition.services import services
    from app.composition.build import start_background as start

    svc = services(app)
    if svc.workers is None and svc.kb_watcher is None:
        start(svc)

