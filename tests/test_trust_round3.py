"""Issue 20: trust boundaries, round 3 — one regression test (or a few) per hole."""
from __future__ import annotations

import logging
from typing import Any, Callable

import pytest
from sqlalchemy import select

from app.composition.services import services
from app.models import Client, Dialog, Message
from app.platform.runmode import ConfigError
from tests.helpers import message_new, post


# 1. A forged message_new: peer_id != from_id in a private dialog ---------------------------------

def test_forged_private_message_with_another_peer_is_refused(app: Any, caplog: Any) -> None:
    victim, other = 7001, 7002
    body = message_new(victim, "Здравствуйте, мой телефон +7 912 000-00-00")
    body["object"]["message"]["peer_id"] = other
    caplog.set_level(logging.WARNING)
    r = post(app.test_client(), body)
    assert r.status_code == 200 and r.data == b"ok"  # VK must not retry it
    with services(app).db.session() as s:
        assert s.execute(select(Message)).first() is None
        assert s.execute(select(Dialog)).first() is None
        assert s.execute(select(Client)).first() is None
    assert any("peer" in r.getMessage() and "from_id" in r.getMessage() for r in caplog.records)
    assert post(app.test_client(), message_new(victim, "Привет")).data == b"ok"  # real ones pass
    with services(app).db.session() as s:
        assert s.execute(select(Dialog.peer_id)).scalars().all() == [victim]


def test_deployed_app_with_vk_refuses_to_start_without_vk_secret(
        make_app: Callable[..., Any]) -> None:
    for missing in (None, "", "   "):
        with pytest.raises(ConfigError, match="VK_SECRET is not set"):
            make_app(vk_secret=missing)


def test_vk_secret_is_not_needed_locally_or_without_vk(make_app: Callable[..., Any]) -> None:
    make_app(vk_secret=None, vk_group_token=None)  # a deployed app without VK sends nothing
    make_app(vk_secret=None, local_mode=True, vk_group_token=None)
