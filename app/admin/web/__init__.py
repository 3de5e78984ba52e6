"""The staff panel: a server-rendered Flask blueprint under /admin (see views.py)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from app.admin.web.auth import is_logged_in
from app.admin.web.deps import AdminDeps

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["AdminDeps", "init_app", "is_logged_in"]


def init_app(app: Flask, deps: AdminDeps) -> None:
    from app.admin.web import views
    from app.platform.deps import install

    install(app, deps)
    app.register_blueprint(views.bp)
