"""Issue 22: the VK sender reaches VK's limit, not a lock's — execute batches, one budget for the
community shared by processes, per-call failures, names in one users.get, typing behind replies,
and the model ceiling. Against the real HTTP VK stand-in with VK's rate limit (error 6) on."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import pytest
from sqlalchemy import create_engine

from app.brain.bounded import BoundedBrain
from app.brain.contract import StageResult
from app.devchat.vk_emulator import parse_execute
from app.vk.api import VkClient
from app.vk.batching import BatchingChannel, execute_code, split_execute
from app.vk.budget import LocalBudget, PgBudget
from app.vk.channel import OutboundMessage
from app.vk.errors import VkCannotSend
from tests.fakes.vk_server import FakeVkServer


@pytest.fixture()
def fake() -> Iterator[FakeVkServer]:
    with FakeVkServer() as server:
        yield server


def channel_for(server: FakeVkServer, rate: float = 20.0) -> BatchingChannel:
    api = VkClient("token", 1, api_base_url=server.base_url, timeout_s=5.0,
                   budget=LocalBudget(rate))
    return BatchingChannel(api)


def test_execute_code_round_trips_any_text() -> None:
    text = 'Цена 4 900 ₽ ]; API.users.get({"user_ids": "1"}) "кавычки" \\ {скобки}'
    calls = [("messages.send", {"peer_id": 5, "message": text, "random_id": 7,
                                "keyboard": '{"inline": true}'}),
             ("messages.setActivity", {"peer_id": 5, "type": "typing", "group_id": 1})]
    code = execute_code(calls)
    assert code.startswith("return [API.messages.send({") and code.endswith("})];")
    assert parse_execute(code) == calls


def test_split_execute_maps_false_to_its_error_in_order() -> None:
    calls = [("messages.send", {}), ("messages.send", {}), ("messages.send", {})]
    raw = {"response": [11, False, 13],
           "execute_errors": [{"method": "messages.send", "error_code": 901,
                               "error_msg": "Can't send"}]}
    out = split_execute(raw, calls)
    assert out[0] == 11 and out[2] == 13
    assert isinstance(out[1], VkCannotSend) and out[1].code == 901


def test_sixty_concurrent_replies_ride_in_few_requests_without_error_6(fake: FakeVkServer) -> None:
    fake.emulator.set_rate_limit(20)
    fake.emulator.set_latency(0.1)
    channel = channel_for(fake)
    peers = list(range(9001, 9061))

    def send(peer: int) -> list[int]:
        return channel.send(OutboundMessage(peer, f"Ответ для {peer}", 1000 + peer))

    with ThreadPoolExecutor(60) as pool:
        ids = list(pool.map(send, peers))
    assert all(len(i) == 1 for i in ids)
    sent = fake.emulator.sent()
    assert sorted(m.peer_id for m in sent) == peers  # each exactly once
    assert fake.emulator.calls("messages.send") == 60
    assert fake.emulator.rate_limited == 0
    # 60 calls at ≤ 25 per request: at least 3 requests, far fewer than 60
    requests = fake.emulator.calls("execute") + (fake.on_request() or 0) * 0
    assert 3 <= channel.stats["requests"] <= 20
    assert requests == channel.stats["executes"]


def test_one_failing_call_fails_only_its_own_reply(fake: FakeVkServer) -> None:
    fake.emulator.set_cannot_send(9102)
    channel = channel_for(fake, rate=2.0)
    channel.api.budget.take()  # the next slot is half a second away: all three join one request
    results: dict[int, Any] = {}

    def send(peer: int) -> None:
        try:
            results[peer] = channel.send(OutboundMessage(peer, "Здравствуйте!", peer))
        except VkCannotSend as exc:
            results[peer] = exc

    threads = [threading.Thread(target=send, args=(p,)) for p in (9101, 9102, 9103)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert isinstance(results[9102], VkCannotSend)
    assert isinstance(results[9101], list) and isinstance(results[9103], list)
    assert sorted(m.peer_id for m in fake.emulator.sent()) == [9101, 9103]
    assert fake.emulator.calls("execute") == 1
    assert channel.api.health()["errors"] == {"901": 1}


def test_names_of_many_new_clients_come_from_one_users_get(fake: FakeVkServer) -> None:
    fake.emulator.set_user(9201, "Анна", "Петрова")
    channel = channel_for(fake, rate=2.0)
    channel.api.budget.take()
    with ThreadPoolExecutor(10) as pool:
        names = list(pool.map(channel.get_user_name, range(9201, 9211)))
    assert names[0] == ("Анна", "Петрова")
    assert all(n is not None and n[0] for n in names)
    assert fake.emulator.calls("users.get") == 1


def test_typing_waits_behind_replies_and_is_dropped_under_a_backlog(fake: FakeVkServer) -> None:
    channel = channel_for(fake, rate=2.0)
    for _ in range(3):  # a second and more of backlog: typing is not worth a slot now
        channel.api.budget.reserve()  # type: ignore[attr-defined] - LocalBudget
    channel.set_typing(9301)
    assert channel.stats["typing_skipped"] == 1
    channel.send(OutboundMessage(9301, "Ответ", 9301))
    assert fake.emulator.typing_events() == []
    assert [m.peer_id for m in fake.emulator.sent()] == [9301]


def test_typing_is_shown_when_the_budget_has_room(fake: FakeVkServer) -> None:
    channel = channel_for(fake)
    channel.set_typing(9401)
    deadline = time.monotonic() + 5
    while not fake.emulator.typing_events(9401) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(fake.emulator.typing_events(9401)) == 1


def test_two_processes_share_one_budget_in_postgresql(clean_db: str) -> None:
    engine = create_engine(clean_db)
    a = PgBudget(lambda: engine, 77, rate=20.0)
    b = PgBudget(lambda: engine, 77, rate=20.0)
    t0 = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: (a if i % 2 else b).take(), range(20)))
    elapsed = time.monotonic() - t0
    engine.dispose()
    # 20 calls at 18/s (20 less the margin) cannot start within less than 19 gaps
    assert elapsed >= 19 * a.gap - 0.01


def test_a_lost_database_falls_back_to_this_process_share() -> None:
    dead = create_engine("postgresql+psycopg2://u:p@127.0.0.1:1/none",
                         connect_args={"connect_timeout": 1})
    budget = PgBudget(lambda: dead, 1, rate=20.0, processes=2)
    assert budget.take() == 0.0
    assert budget._fallback.gap == pytest.approx(1 / (10 * 0.9))


class _SlowBrain:
    name = "slow"

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self.lock = threading.Lock()

    def analyze(self, ctx: Any) -> StageResult:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(0.05)
        with self.lock:
            self.now -= 1
        return StageResult(value="{}", usage=None)  # type: ignore[arg-type] - only counted here

    def write_reply(self, ctx: Any, analysis: Any, decisions: Any) -> StageResult:
        return self.analyze(ctx)


def test_model_calls_never_exceed_the_ceiling_and_none_is_dropped() -> None:
    inner = _SlowBrain()
    brain = BoundedBrain(inner, 3)
    with ThreadPoolExecutor(12) as pool:
        done = list(pool.map(lambda i: brain.analyze(None), range(24)))  # type: ignore[arg-type]
    assert len(done) == 24
    assert inner.peak == 3
    assert brain.waited_s > 0


def test_railway_drains_longer_than_the_app_and_gunicorn() -> None:
    """Railway sends SIGKILL 3 s after SIGTERM unless drainingSeconds is set: it must outlast
    SHUTDOWN_DRAIN_S and gunicorn's graceful timeout, or a deploy costs every lease."""
    import json
    import re
    from pathlib import Path

    from app.platform.config import Settings

    root = Path(__file__).resolve().parents[2]
    deploy = json.loads((root / "railway.json").read_text())["deploy"]
    graceful = {int(m) for text in (deploy["startCommand"], (root / "Procfile").read_text())
                for m in re.findall(r"--graceful-timeout (\d+)", text)}
    assert graceful == {20}
    assert isinstance(deploy["drainingSeconds"], int)  # Railway refuses a string
    assert deploy["drainingSeconds"] == 30
    assert deploy["drainingSeconds"] > max(graceful) > Settings.model_fields[
        "shutdown_drain_s"].default == 12.0
