"""Issues 16.2 and 16.3: SECRET_KEY rules and LOCAL_MODE (the local chat never on a server)."""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Callable

import pytest
from sqlalchemy import select

from app.composition.factory import parts as services
from app.models import Message
from app.platform.runmode import ConfigError, server_database
from tests.helpers import message_new, post

SERVER_URL = "postgresql+psycopg2://app:pw@db.internal.example:5432/app"


def test_deployed_panel_without_secret_key_refuses_to_start(make_app: Callable[..., Any]) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        make_app(secret_key=None)
    with pytest.raises(ConfigError, match="SECRET_KEY is too short"):
        make_app(secret_key="short-key")


def test_on_railway_local_mode_does_not_help(make_app: Callable[..., Any],
                                             monkeypatch: Any) -> None:
    monkeypatch.setenv("RAILWAY_ENVIRONMENT", "production")
    with pytest.raises(ConfigError):
        make_app(secret_key=None, local_mode=True)


def test_without_the_panel_no_key_is_needed(make_app: Callable[..., Any]) -> None:
    app = make_app(secret_key=None, admin_password=None)
    assert len(app.config["SECRET_KEY"]) >= 32


def test_local_key_is_random_stored_and_stable(make_app: Callable[..., Any],
                                               tmp_path: Path) -> None:
    first = make_app(secret_key=None, local_mode=True, data_dir=str(tmp_path))
    second = make_app(secret_key=None, local_mode=True, data_dir=str(tmp_path))
    key = first.config["SECRET_KEY"]
    assert key == second.config["SECRET_KEY"] and len(key) >= 32
    path = tmp_path / "secret_key"
    assert path.read_text(encoding="utf-8") == key
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "admin-pass" not in key
    other = tmp_path / "other"
    assert make_app(secret_key=None, local_mode=True,
                    data_dir=str(other)).config["SECRET_KEY"] != key


def test_deployed_without_token_starts_without_chat_and_says_so(make_app: Callable[..., Any],
                                                                clock: Any) -> None:
    app = make_app(vk_group_token=None)
    c = app.test_client()
    assert c.get("/dev/chat").status_code == 404
    assert c.post("/dev/chat/send", data={"text": "x"}).status_code in (404, 405)
    health = c.get("/healthz").get_json()
    assert health["vk"]["token"] == "missing"
    r = c.post("/vk/callback", json={"type": "confirmation", "group_id": 1,
                                     "secret": "s3cret"})
    assert r.get_data(as_text=True) == "conf-code-123"
    assert post(c, message_new(6801, "Здравствуйте")).data == b"ok"
    with services(app).db.session() as s:
        assert s.execute(select(Message.text)).scalars().all() == ["Здравствуйте"]


def test_local_mode_has_the_chat(make_app: Callable[..., Any]) -> None:
    app = make_app(vk_group_token=None, local_mode=True)
    assert app.test_client().get("/dev/chat").status_code == 200


@pytest.mark.parametrize("where", ["railway", "server_db"])
def test_local_mode_is_refused_on_a_server(make_app: Callable[..., Any], monkeypatch: Any,
                                           where: str) -> None:
    extra: dict[str, Any] = {}
    if where == "railway":
        monkeypatch.setenv("RAILWAY_ENVIRONMENT", "production")
    else:
        extra["database_url"] = SERVER_URL
    app = make_app(vk_group_token=None, local_mode=True, **extra)
    assert app.test_client().get("/dev/chat").status_code == 404
    assert services(app).local_vk is None


@pytest.mark.parametrize("url,server", [
    (None, False), ("postgresql+psycopg2://u@127.0.0.1:5432/x", False),
    ("postgresql+psycopg2://u@localhost/x", False), ("postgresql+psycopg2:///x?host=/tmp", False),
    (SERVER_URL, True), ("postgresql://u:p@containers-us-west-1.railway.app:6543/railway", True),
])
def test_server_database_detection(url: Any, server: bool) -> None:
    assert server_database(url) is server
