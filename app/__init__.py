"""«Нейросотрудник»: the app factory. Importing this package has no side effects, and neither
does `create_app` (app/composition builds the parts and hands each adapter its own deps): it
starts no threads.
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
    from app.composition.factory import create_app as create

    return create(settings, clock=clock, channel=channel, primary_brain=primary_brain, lazy=lazy)


def start_background(app: Flask) -> None:
    """Start this process' worker pool, reminder scheduler and KB watcher (once)."""
    from app.composition.factory import start_background as start

    start(app)
