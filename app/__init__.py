"""«Нейросотрудник»: the app factory. Importing this package has no side effects."""
from __future__ import annotations

import atexit
import logging
import os
from typing import Any, Optional

from flask import Flask

from app.clock import Clock
from app.config import Settings

log = logging.getLogger(__name__)


def create_app(settings: Optional[Settings] = None, *, clock: Optional[Clock] = None,
               start_background: Optional[bool] = None, **overrides: Any) -> Flask:
    """Build the app. Background workers and the scheduler start unless this is a CLI run
    (`flask …`) or `start_background=False` (tests)."""
    from app.logging_setup import configure_logging
    from app.wiring import build_services, register_blueprints, start_background_parts

    settings = settings or Settings()
    configure_logging(settings.log_json)
    app = Flask(__name__, template_folder="admin/web/templates")
    app.config["SECRET_KEY"] = settings.secret_key or _derived_secret(settings)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = settings.cookies_secure
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
    if settings.behind_proxy:  # the client's address for the login rate limit, https scheme
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]
    cli_run = bool(os.environ.get("FLASK_RUN_FROM_CLI"))
    svc = build_services(settings, clock or Clock(), lazy=cli_run, **overrides)
    app.extensions["neuro"] = svc
    register_blueprints(app, svc)
    if start_background is None:
        start_background = settings.start_workers and not cli_run
    if start_background:
        start_background_parts(svc)
        atexit.register(svc.shutdown)
    return app


def _derived_secret(settings: Settings) -> str:
    """A stable session key when SECRET_KEY is unset: derived from the admin password."""
    import hashlib

    seed = (settings.admin_password or "") + (settings.vk_secret or "") + "neuro-sotrudnik"
    return hashlib.sha256(seed.encode()).hexdigest()
