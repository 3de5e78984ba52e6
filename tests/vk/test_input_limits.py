"""Issue 16.10: the e-mail pattern is linear, the parser refuses texts VK cannot send, and old
processed event ids are forgotten after VK's retry window."""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.brain.offline.rules import EMAIL_RE
from app.composition.factory import parts as services
from app.models import ProcessedEvent
from app.vk.inbound.events import EventError, parse_message
from app.vk.inbound.inbox import EVENT_MEMORY, prune_events
from tests.helpers import message_new, post

HOSTILE = ["a" * 20_000, "a." * 10_000, "x@" + "a" * 20_000, "-@" * 10_000,
           ("a" * 100 + "@") * 190, "a@" + "a-" * 10_000]


@pytest.mark.parametrize("text", HOSTILE)
def test_email_pattern_is_linear(text: str) -> None:
    started = time.perf_counter()
    EMAIL_RE.search(text)
    assert time.perf_counter() - started < 0.05  # was 0.9–1.8 s


@pytest.mark.parametrize("text,found", [
    ("мой email Olga.K@example.com, спасибо", "Olga.K@example.com"),
    ("почта: ivan_petrov+school@mail.ru.", "ivan_petrov+school@mail.ru"),
    ("напишите на a@b.co", "a@b.co"), ("нет почты @ тут", None),
])
def test_email_pattern_still_finds_real_addresses(text: str, found: Any) -> None:
    m = EMAIL_RE.search(text)
    assert (m.group(0) if m else None) == found


def test_parser_limit_is_realistic() -> None:
    base = {"id": 1, "peer_id": 5, "from_id": 5, "date": 1}
    assert parse_message({**base, "text": "я" * 4096}, "m").text == "я" * 4096
    with pytest.raises(EventError):
        parse_message({**base, "text": "я" * 9001}, "m")


def test_processed_events_are_pruned_beyond_the_retry_window(app: Any, clock: Any) -> None:
    client = app.test_client()
    for i in range(3):
        assert post(client, message_new(6601, f"старое {i}", event_id=f"old-{i}")).data == b"ok"
    clock.advance(EVENT_MEMORY.total_seconds() + 60)
    post(client, message_new(6601, "новое", event_id="new-1"))
    with services(app).db.session() as s:
        assert prune_events(s, clock.now()) == 3
    with services(app).db.session() as s:
        left = s.execute(select(ProcessedEvent.event_id)).scalars().all()
        assert left == ["new-1"]
    assert EVENT_MEMORY >= timedelta(hours=24)
    # within the window a VK retry is still recognised
    post(client, message_new(6601, "новое", event_id="new-1"))
    with services(app).db.session() as s:
        assert s.execute(select(func.count()).select_from(ProcessedEvent)).scalar_one() == 1
