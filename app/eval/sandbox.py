"""The lab's sandbox: a throw-away database, a per-dialog clock and an app wired to them.

Eval turns never touch the school's data: every run creates its own database (beside the
configured one when allowed, else on the embedded PostgreSQL), migrates it to head, and drops
it afterwards. The VK side is an
in-process `CollectingChannel`; the brain is the configured one (Gemini with a key, else the
offline rules), optionally reading its prompts from another directory.
"""
from __future__ import annotations

import logging
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator, Protocol

from flask import Flask
from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from app.brain.prompts import PromptSet
from app.knowledge.base import KnowledgeStore
from app.platform.clock import Clock
from app.platform.config import Settings
from app.platform.db import Database
from app.turns import TurnRunner
from app.vk.channel import CollectingChannel

log = logging.getLogger(__name__)
# Wednesday 12:00 in Moscow: inside working hours, the same for every dialog and every run,
# so two runs differ only by what was changed (prompts, model, KB).
EVAL_START = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
EVAL_GROUP_ID = 1
EVAL_SECRET = "eval-lab"
MANAGER_PEER_ID = 100  # escalations are "sent" to this id through the collecting channel


class DialogClock(Clock):
    """Virtual time per thread: each dialog starts at `start` and moves on its own, whatever
    the other dialogs played beside it do."""

    def __init__(self, start: datetime = EVAL_START) -> None:
        self.start = start
        self._local = threading.local()

    def begin(self) -> None:
        self._local.now = self.start

    def now(self) -> datetime:
        now: datetime = getattr(self._local, "now", self.start)  # thread-local: set by begin/advance
        return now

    def advance(self, seconds: float) -> datetime:
        now = self.now() + timedelta(seconds=seconds)
        self._local.now = now
        return now


def _create_database(server_url: str) -> str:
    """CREATE DATABASE eval_<random> on the server of `server_url`; returns its name."""
    name = "eval_" + uuid.uuid4().hex[:12]
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=pool.NullPool,
                          connect_args={"connect_timeout": 10})
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return name


def _drop_database(server_url: str, name: str) -> None:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=pool.NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def pick_server(settings: Settings) -> tuple[str, str]:
    """(server URL, new database name): a new database beside DATABASE_URL's when the role may
    create one, else on the embedded PostgreSQL under DATA_DIR. The configured database itself
    is only used to issue CREATE/DROP DATABASE, never written to."""
    if settings.database_url:
        try:
            return settings.database_url, _create_database(settings.database_url)
        except SQLAlchemyError as exc:
            log.warning("eval: cannot create a database beside DATABASE_URL (%s); using the "
                        "embedded PostgreSQL", str(exc).splitlines()[0][:200])
    url = embedded_server_url(settings)
    return url, _create_database(url)


@contextmanager
def throwaway_database(settings: Settings) -> Iterator[str]:
    """A new database, migrated to head; dropped on exit (also after an error or Ctrl-C)."""
    from app.platform.migrate import upgrade_head

    server_url, name = pick_server(settings)
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_head(url)
        yield url
    finally:
        _drop_database(server_url, name)


def embedded_server_url(settings: Settings) -> str:
    """The embedded PostgreSQL under DATA_DIR (started if needed): never the school's data."""
    from app.platform.db import embedded_database_url

    return embedded_database_url(settings.data_dir)


def brain_label(settings: Settings) -> str:
    if not settings.gemini_configured:
        return "offline"
    a, r = settings.gemini_analysis_model, settings.gemini_reply_model
    return f"gemini:{a}" if a == r else f"gemini:{a}+{r}"


class LabApp(Protocol):
    """An app built for the lab: what `make_app` returns."""

    flask: Flask
    db: Database
    kb_store: KnowledgeStore
    turns: TurnRunner

    def shutdown(self) -> None: ...


class MakeApp(Protocol):
    """Builds the app on the lab's settings, clock and channel, its brain reading `prompts`
    (handed in by the composition: the lab never imports `create_app`)."""

    def __call__(self, settings: Settings, *, clock: Clock, channel: CollectingChannel,
                 prompts: PromptSet) -> LabApp: ...


@dataclass
class Lab:
    app: Flask
    clock: DialogClock
    channel: CollectingChannel
    settings: Settings
    parts: LabApp


def lab_settings(base: Settings, database_url: str, kb_path: str | Path,
                 concurrency: int) -> Settings:
    return base.model_copy(update=dict(
        database_url=database_url, knowledge_base_path=str(kb_path),
        vk_group_id=EVAL_GROUP_ID, vk_secret=EVAL_SECRET, vk_group_token=None,
        worker_threads=max(2, concurrency * 2),  # sizes the connection pool; no pool starts
        run_scheduler=False, manager_peer_ids=str(MANAGER_PEER_ID),
        claim_timeout_s=max(base.claim_timeout_s, 60.0), admin_password=None,
        # scenario attachments are served from 127.0.0.1 (app.eval.runner.MediaServer)
        vk_media_allowed_hosts=base.vk_media_allowed_hosts + ",127.0.0.1"))


@contextmanager
def open_lab(make_app: MakeApp, base: Settings, database_url: str, kb_path: str | Path,
             prompts: PromptSet, concurrency: int) -> Iterator[Lab]:
    settings = lab_settings(base, database_url, kb_path, concurrency)
    clock, channel = DialogClock(), CollectingChannel()
    parts = make_app(settings, clock=clock, channel=channel, prompts=prompts)
    try:
        yield Lab(app=parts.flask, clock=clock, channel=channel, settings=settings, parts=parts)
    finally:
        parts.shutdown()
