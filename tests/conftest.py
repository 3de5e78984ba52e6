"""Shared fixtures: a real embedded PostgreSQL, a real HTTP fake VK, app factories."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Iterator

import pytest
from sqlalchemy import create_engine, text

from app.platform.clock import FakeClock
from app.platform.config import Settings
from tests.fakes.gemini_server import FakeGeminiServer
from tests.fakes.scripted_model import ScriptedModel
from tests.fakes.vk_server import FakeVkServer
from tests.pg import ROOT, TestPostgres


def all_tables() -> tuple[str, ...]:
    """Every table of the models (so a new model is truncated between tests too)."""
    import app.models  # noqa: F401 - registers every model on the metadata
    from app.platform.db import Base

    return tuple(Base.metadata.tables)


START = datetime(2026, 11, 25, 11, 30, tzinfo=timezone.utc)  # Wednesday 14:30 in Moscow


@pytest.fixture(scope="session")
def pg() -> Iterator[TestPostgres]:
    server = TestPostgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def database_url(pg: TestPostgres) -> str:
    return pg.create_database(migrate=True)


@pytest.fixture()
def clean_db(database_url: str) -> str:
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(all_tables()) + " RESTART IDENTITY CASCADE"))
    engine.dispose()
    return database_url


@pytest.fixture(scope="session")
def vk_server() -> Iterator[FakeVkServer]:
    with FakeVkServer() as server:
        yield server


@pytest.fixture()
def vk(vk_server: FakeVkServer) -> FakeVkServer:
    vk_server.emulator.reset()
    return vk_server


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock(START)


def make_settings(database_url: str, vk_base_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        database_url=database_url, vk_group_id=1, vk_group_token="test-token",
        vk_api_base_url=vk_base_url, vk_confirmation_code="conf-code-123", vk_secret="s3cret",
        vk_timeout_s=3, knowledge_base_path=str(ROOT / "knowledge_base.json"),
        debounce_seconds=8, worker_threads=0, run_scheduler=False, gemini_api_key=None,
        admin_password="admin-pass", manager_peer_ids="777", claim_timeout_s=60,
        web_concurrency=1, secret_key="test-secret-key-of-real-length-0123456789",
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture()
def make_app(clean_db: str, vk: FakeVkServer, clock: FakeClock) -> Iterator[Callable[..., Any]]:
    from app import create_app
    from app import start_background as start

    apps: list[Any] = []

    def factory(start_background: bool = False, channel: Any = None, primary_brain: Any = None,
                **overrides: Any) -> Any:
        url = overrides.pop("database_url", clean_db)
        settings = make_settings(url, vk.base_url, **overrides)
        app = create_app(settings, clock=clock, channel=channel, primary_brain=primary_brain,
                         lazy=False)
        app.config["TESTING"] = True
        if start_background:
            start(app)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions["neuro"].shutdown()


@pytest.fixture()
def app(make_app: Callable[..., Any]) -> Any:
    return make_app()


# A scripted Gemini behind the real HTTP stand-in, for whole-pipeline tests (a module that
# defines its own `gemini` or `gapp` fixture keeps it).
@pytest.fixture(scope="module")
def gemini() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer() as server:
        yield server


@pytest.fixture()
def model(gemini: FakeGeminiServer) -> ScriptedModel:
    scripted = ScriptedModel()
    gemini.clear()  # `requests` is a copy: clearing it would keep the last test's requests
    gemini.set_responder(scripted)
    return scripted


@pytest.fixture()
def gapp(make_app: Callable[..., Any], gemini: FakeGeminiServer, model: ScriptedModel) -> Any:
    return make_app(gemini_api_key="test-key", gemini_base_url=gemini.base_url,
                    gemini_timeout_s=3)
