"""Restarts cost seconds: the app under a real gunicorn, a slow model, turns in flight.

SIGTERM of the master (every deploy): the stopping worker releases the turns it cannot finish,
and the next process answers them within seconds. kill -9 of the whole group: the short lease
runs out and the next process answers within the lease. Nobody is answered twice.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import create_engine, text

from tests.fakes.gemini_server import FakeGeminiServer, RecordedRequest, text_response
from tests.fakes.vk_server import FakeVkServer
from tests.helpers import message_new
from tests.pg import ROOT

pytestmark = pytest.mark.slow

MODEL_DELAY_S = 2.5
LEASE_S = 8


class SlowModel:
    """Valid answers for both stages, each after MODEL_DELAY_S (a slow but healthy Gemini)."""

    def __init__(self) -> None:
        self.analyses_started = 0  # counted on arrival, before the delay

    def __call__(self, req: RecordedRequest) -> Any:
        cfg = req.generation_config
        is_analysis = bool(cfg.get("responseJsonSchema") or cfg.get("responseSchema"))
        self.analyses_started += is_analysis
        time.sleep(MODEL_DELAY_S)
        if is_analysis:
            return text_response(json.dumps({
                "psych_state": "спокоен", "mood": "нейтральное", "funnel_stage": "warm",
                "intent": "узнать о курсах", "short_term_strategy": "ответить",
                "long_term_strategy": "помочь выбрать курс", "facts": {},
                "follow_up": {"agreed": False}, "kb_ids": [], "offer": None,
                "escalate": {"needed": False, "reason": ""}, "reply_plan": "тепло"},
                ensure_ascii=False))
        return text_response("Здравствуйте! Расскажите, пожалуйста, вы уже играли раньше?")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class App:
    """`gunicorn app:create_app()` as in the Procfile (the gunicorn.conf.py hooks included)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env, self.port, self.proc = env, _port(), None
        self.started_at = 0.0

    def start(self) -> "App":
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self.proc = subprocess.Popen(
            [gunicorn, "app:create_app()", "--bind", f"127.0.0.1:{self.port}", "--workers", "1",
             "--threads", "4", "--worker-class", "gthread", "--graceful-timeout", "10"],
            env=self.env, cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2):
                    # the clock starts when the process serves (its workers started in
                    # post_worker_init): boot time on a loaded machine is not the drain's
                    self.started_at = time.monotonic()
                    return self
            except OSError:
                time.sleep(0.2)
        raise AssertionError("gunicorn did not start")

    def post(self, body: dict) -> None:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/vk/callback",
                                     data=json.dumps(body, ensure_ascii=False).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.read() == b"ok"

    def signal(self, sig: int) -> None:
        os.killpg(self.proc.pid, sig) if sig == signal.SIGKILL else self.proc.send_signal(sig)
        self.proc.wait(30)


@pytest.fixture()
def stack(pg: Any) -> Iterator[tuple[dict[str, str], FakeVkServer, SlowModel, str]]:
    url = pg.create_database(migrate=True)
    model = SlowModel()
    with FakeVkServer() as vk, FakeGeminiServer(model) as gemini:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "VK_"))}
        env.update({
            "DATABASE_URL": url, "VK_GROUP_ID": "1", "VK_GROUP_TOKEN": "t", "VK_SECRET": "s3cret",
            "VK_API_BASE_URL": vk.base_url, "VK_CONFIRMATION_CODE": "c",
            "GEMINI_API_KEY": "k", "GEMINI_BASE_URL": gemini.base_url, "GEMINI_TIMEOUT_S": "20",
            "KNOWLEDGE_BASE_PATH": str(ROOT / "knowledge_base.json"), "DEBOUNCE_SECONDS": "0",
            "CLAIM_TIMEOUT_S": str(LEASE_S), "SHUTDOWN_DRAIN_S": "1", "WORKER_THREADS": "8",
            "WORKER_POLL_S": "0.2", "RUN_SCHEDULER": "false", "QUIET_HOURS": "off",
            "ADMIN_PASSWORD": "x", "SECRET_KEY": "restart-test-secret-key-0123456789abcdef",
            "WEB_CONCURRENCY": "1", "PYTHONPATH": str(ROOT)})
        yield env, vk, model, url


def _in_flight(model: SlowModel, n: int) -> None:
    """Wait until all `n` turns are inside their analysis call."""
    deadline = time.monotonic() + 30
    while model.analyses_started < n and time.monotonic() < deadline:
        time.sleep(0.05)
    assert model.analyses_started >= n, "the turns never reached the model"


def _answered_within(vk: FakeVkServer, peers: list[int], since: float, limit_s: float) -> float:
    deadline = since + limit_s
    while time.monotonic() < deadline:
        if all(vk.emulator.sent(p) for p in peers):
            return time.monotonic() - since
        time.sleep(0.1)
    missing = [p for p in peers if not vk.emulator.sent(p)]
    raise AssertionError(f"not answered within {limit_s} s: {missing}")


def _each_once(vk: FakeVkServer, peers: list[int]) -> None:
    time.sleep(1.0)
    counts = Counter(m.peer_id for m in vk.emulator.sent() if m.peer_id in peers)
    assert all(counts[p] == 1 for p in peers), counts


def test_sigterm_releases_turns_and_the_next_process_answers_in_seconds(stack) -> None:  # noqa: ANN001
    env, vk, model, url = stack
    app = App(env).start()
    peers = list(range(5101, 5105))
    for i, peer in enumerate(peers):
        app.post(message_new(peer, "Здравствуйте! Хочу научиться играть", event_id=f"r{i}"))
    _in_flight(model, len(peers))
    app.signal(signal.SIGTERM)  # graceful: drain 1 s, then release
    engine = create_engine(url)
    with engine.connect() as conn:  # released: no dialog still holds a live claim
        held = conn.execute(text("SELECT count(*) FROM dialogs WHERE claimed_until > now() "
                                 "+ interval '1 second'")).scalar_one()
    engine.dispose()
    assert held == 0
    nxt = App(env).start()
    try:
        took = _answered_within(vk, peers, nxt.started_at, 2 * MODEL_DELAY_S + 6)
        _each_once(vk, peers)
    finally:
        nxt.signal(signal.SIGTERM)
    assert took < LEASE_S + 2 * MODEL_DELAY_S  # faster than waiting for the lease


def test_kill9_the_lease_runs_out_and_the_next_process_answers(stack) -> None:  # noqa: ANN001
    env, vk, model, _url = stack
    app = App(env).start()
    peers = list(range(5201, 5204))
    for i, peer in enumerate(peers):
        app.post(message_new(peer, "Добрый день, сколько стоит курс?", event_id=f"k{i}"))
    _in_flight(model, len(peers))
    app.signal(signal.SIGKILL)
    nxt = App(env).start()
    try:
        _answered_within(vk, peers, nxt.started_at, LEASE_S + 2 * MODEL_DELAY_S + 8)
        _each_once(vk, peers)
    finally:
        nxt.signal(signal.SIGTERM)
