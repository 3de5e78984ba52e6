"""VkClient against FakeVkServer, through the real vk_api and HTTP."""
from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.devchat.vk_emulator import VkEmulator
from app.vk.api import (
    MAX_MESSAGE_LEN,
    VkClient,
    derive_part_random_id,
    derive_random_id,
    split_text,
)
from app.vk.errors import (
    VkCannotSend,
    VkCaptcha,
    VkError,
    VkNetworkError,
    VkRateLimited,
    VkServerError,
)
from tests.fakes.vk_server import FakeVkServer

PEER = 556  # an ordinary user peer (not a chat)


@pytest.fixture
def vk_server():
    with FakeVkServer() as server:
        yield server


@pytest.fixture
def client(vk_server):
    return VkClient("test-token", 1, api_base_url=vk_server.base_url, timeout_s=2.0,
                    max_retries=3, backoff_base_s=0.01, backoff_max_s=0.05)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_derive_random_id_is_deterministic_positive_31_bit():
    values = {derive_random_id(f"turn:{i}") for i in range(2000)}
    assert derive_random_id("turn:123") == derive_random_id("turn:123")
    assert len(values) == 2000
    assert all(0 < v < 2 ** 31 for v in values)
    assert derive_part_random_id(77, 0) == 77
    assert derive_part_random_id(77, 1) == derive_part_random_id(77, 1) != 77


def test_send_returns_ids_and_reaches_fake_server_via_rewritten_url(client, vk_server):
    assert client.send_message(PEER, "Здравствуйте! Чем помочь?", 101) == [1]
    assert client.send_message(PEER, "Второе сообщение", 102) == [2]
    sent = vk_server.emulator.sent(PEER)
    assert [(m.id, m.text, m.random_id) for m in sent] == [
        (1, "Здравствуйте! Чем помочь?", 101), (2, "Второе сообщение", 102)]
    assert vk_server.requests_seen == 2  # vk_api's api.vk.ru URL was rewritten to us


def test_repeat_of_same_random_id_is_dropped(client, vk_server):
    first = client.send_message(PEER, "Привет", 555)
    again = client.send_message(PEER, "Привет", 555)
    assert first == again
    assert len(vk_server.emulator.sent(PEER)) == 1


def test_long_text_split_on_sentence_boundaries(client, vk_server):
    sentence = "Занятия проходят онлайн в удобное время, педагог подбирает программу. "
    text = (sentence * 140).strip()  # ~9800 chars
    ids = client.send_message(PEER, text, 9)
    sent = vk_server.emulator.sent(PEER)
    assert len(ids) == len(sent) == 3
    assert all(len(m.text) <= MAX_MESSAGE_LEN for m in sent)
    assert all(m.text.endswith(".") for m in sent)
    assert _squash("".join(m.text for m in sent)) == _squash(text)
    assert [m.random_id for m in sent] == [derive_part_random_id(9, i) for i in range(3)]
    # A retry of the whole call re-sends nothing.
    assert client.send_message(PEER, text, 9) == ids
    assert len(vk_server.emulator.sent(PEER)) == 3


def test_split_falls_back_to_whitespace_then_hard():
    words = " ".join(["слово"] * 2000)
    parts = split_text(words, limit=100)
    assert all(len(p) <= 100 and not p.startswith(" ") for p in parts)
    assert _squash("".join(parts)) == _squash(words)
    blob = "x" * 250
    assert split_text(blob, limit=100) == ["x" * 100, "x" * 100, "x" * 50]
    assert split_text("  short  ") == ["short"]


def test_cannot_send_901(client, vk_server):
    vk_server.emulator.set_cannot_send(PEER)
    with pytest.raises(VkCannotSend) as info:
        client.send_message(PEER, "Привет", 1)
    assert info.value.code == 901 and info.value.method == "messages.send"


def test_rate_limit_retried_then_sent_once(client, vk_server):
    vk_server.emulator.fail_next("messages.send", 6, times=2)
    assert client.send_message(PEER, "Привет", 1) == [1]
    assert vk_server.emulator.calls("messages.send") == 3
    assert len(vk_server.emulator.sent(PEER)) == 1
    assert client.health()["errors"] == {"6": 2}


def test_rate_limit_forever_is_bounded(client, vk_server):
    vk_server.emulator.fail_next("messages.send", 9, times=1000)
    with pytest.raises(VkRateLimited) as info:
        client.send_message(PEER, "Привет", 1)
    assert info.value.code == 9 and info.value.retry_after > 0
    assert vk_server.emulator.calls("messages.send") == 4  # 1 + max_retries
    assert vk_server.emulator.sent() == []


def test_error_6_is_not_retried_inside_vk_api(client, vk_server):
    client.max_retries = 0
    vk_server.emulator.fail_next("messages.send", 6, times=1000)
    with pytest.raises(VkRateLimited):
        client.send_message(PEER, "Привет", 1)
    assert vk_server.emulator.calls("messages.send") == 1


def test_server_error_counted_in_health(client, vk_server):
    vk_server.emulator.fail_next("messages.send", 10)
    with pytest.raises(VkServerError):
        client.send_message(PEER, "Привет", 1)
    health = client.health()
    assert health["calls"] == 1 and health["errors"] == {"10": 1}
    assert health["last_error"]["code"] == 10
    assert health["last_error"]["at"].endswith("+00:00")


def test_captcha_and_other_codes_are_mapped(client, vk_server):
    vk_server.emulator.fail_next("messages.send", 14)
    with pytest.raises(VkCaptcha):
        client.send_message(PEER, "Привет", 1)
    vk_server.emulator.fail_next("messages.send", 901)
    with pytest.raises(VkCannotSend):
        client.send_message(PEER, "Привет", 1)
    vk_server.emulator.fail_next("messages.send", 7)  # our token lacks a right: not the client
    with pytest.raises(VkServerError):
        client.send_message(PEER, "Привет", 1)
    vk_server.emulator.fail_next("users.get", 100)
    with pytest.raises(VkError) as info:
        client.get_user_names([1])
    assert type(info.value) is VkError and info.value.code == 100


def test_bad_token_is_server_error():
    with FakeVkServer() as server:
        vk = VkClient("", 1, api_base_url=server.base_url, timeout_s=2.0)
        with pytest.raises(VkServerError) as info:
            vk.send_message(PEER, "Привет", 1)
    assert info.value.code == 5


def test_http_error_is_network_error(client, vk_server):
    vk_server.fail_next_http(502)
    with pytest.raises(VkNetworkError):
        client.send_message(PEER, "Привет", 1)
    assert client.health()["errors"] == {"network": 1}


def test_typing_recorded_and_errors_swallowed(client, vk_server):
    client.set_typing(PEER)
    events = vk_server.emulator.typing_events(PEER)
    assert [(e.peer_id, e.type) for e in events] == [(PEER, "typing")]
    vk_server.emulator.fail_next("messages.setActivity", 10)
    client.set_typing(PEER)  # does not raise
    assert vk_server.emulator.calls("messages.setActivity") == 2


def test_users_get(client, vk_server):
    vk_server.emulator.set_user(42, "Ольга", "Петрова")
    names = client.get_user_names([42, 43])
    assert names[42] == ("Ольга", "Петрова")
    assert names[43][0] and names[43][1]
    assert client.get_user_name(42) == ("Ольга", "Петрова")


def test_hung_server_times_out():
    with FakeVkServer() as server:
        server.emulator.set_latency(3.0)
        vk = VkClient("t", 1, api_base_url=server.base_url, timeout_s=0.3)
        started = time.monotonic()
        with pytest.raises(VkNetworkError):
            vk.send_message(PEER, "Привет", 1)
        assert time.monotonic() - started < 1.5


def test_unreachable_server_is_network_error():
    with FakeVkServer() as server:
        url = server.base_url
    vk = VkClient("t", 1, api_base_url=url, timeout_s=0.5)
    with pytest.raises(VkNetworkError):
        vk.send_message(PEER, "Привет", 1)


def test_rate_is_capped_at_20_per_second_across_threads(client, vk_server):
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: client.send_message(PEER + i, "Привет", i + 1),
                                range(25)))
    elapsed = time.monotonic() - started
    assert len({r[0] for r in results}) == 25
    assert elapsed >= 24 / 20 - 0.05


def test_emulator_envelope_and_wait_for_sent():
    emu = VkEmulator(group_id=7)
    assert emu.handle("messages.send", {"peer_id": 1, "random_id": 1, "message": "a"})[
        "error"]["error_code"] == 5
    error = emu.handle("messages.send", {"access_token": "x", "peer_id": 1})["error"]
    assert error["error_code"] == 100
    assert {"key": "method", "value": "messages.send"} in error["request_params"]
    assert all(p["key"] != "access_token" for p in error["request_params"])
    assert emu.handle("groups.getById", {"access_token": "x"})["response"]["groups"][0]["id"] == 7
    assert emu.handle("nope.nope", {"access_token": "x"})["error"]["error_code"] == 3
    emu.fail_next("messages.send", 901, peer_id=2)
    ok = emu.handle("messages.send", {"access_token": "x", "peer_id": 1, "random_id": 5,
                                      "message": "hi"})
    assert ok == {"response": 1}
    assert emu.wait_for_sent(1, peer_id=1, timeout=0.1)[0].text == "hi"
    with pytest.raises(TimeoutError):
        emu.wait_for_sent(1, peer_id=2, timeout=0.05)
