"""Gemini's transient HTTP failures are retried by the SDK (HttpRetryOptions), through the real
SDK and the real HTTP fake; what the SDK cannot see (an empty answer) is retried by us."""
from __future__ import annotations

import json
import time
from typing import Iterator

import pytest

from app.brain.analysis import parse_analysis
from app.brain.contract import Decisions
from app.brain.errors import LlmError, LlmRateLimited, LlmServerError
from app.brain.gemini.brain import GeminiBrain
from tests.brain.test_brain_gemini import ANALYSIS, GOOD_REPLY
from tests.brain.test_brain_offline import make_ctx
from tests.fakes.gemini_server import FakeGeminiServer, error_response, text_response


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture()
def fake() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer() as server:
        yield server


def brain(fake: FakeGeminiServer, attempts: int, sleeps: Sleeps, base_s: float = 0.01
          ) -> GeminiBrain:
    return GeminiBrain(api_key="k", base_url=fake.base_url, analysis_model="an",
                       reply_model="re", timeout_s=2.0, max_attempts=attempts,
                       backoff_base_s=base_s, sleep=sleeps)


def reply(b: GeminiBrain) -> str:
    analysis = parse_analysis(json.dumps(ANALYSIS))
    return b.write_reply(make_ctx("Привет"), analysis, Decisions()).value


def test_503_twice_then_ok_is_one_successful_call(fake):
    sleeps = Sleeps()
    b = brain(fake, attempts=4, sleeps=sleeps)
    fake.push(error_response(503), error_response(503), text_response(GOOD_REPLY))
    analysis = parse_analysis(json.dumps(ANALYSIS))
    result = b.write_reply(make_ctx("Привет"), analysis, Decisions())
    assert result.value == GOOD_REPLY and result.usage.attempts == 3
    assert len(fake.requests) == 3
    assert sleeps == []  # the SDK waited, not our loop
    b.close()


def test_429_forever_stops_after_the_configured_attempts(fake):
    fake.set_responder(lambda request: error_response(429))
    sleeps = Sleeps()
    b = brain(fake, attempts=3, sleeps=sleeps, base_s=0.05)
    started = time.monotonic()
    with pytest.raises(LlmRateLimited):
        reply(b)
    elapsed = time.monotonic() - started
    assert len(fake.requests) == 3 and sleeps == []
    # two backoffs: 0.05+j and 0.1+j with j ≤ 0.05 — waited, and bounded
    assert 0.15 <= elapsed < 2.0
    b.close()


@pytest.mark.parametrize("code,exc", [(500, LlmServerError), (502, LlmServerError),
                                      (504, LlmServerError)])
def test_5xx_are_retried_and_mapped(fake, code, exc):
    fake.set_responder(lambda request: error_response(code))
    b = brain(fake, attempts=2, sleeps=Sleeps())
    with pytest.raises(exc):
        reply(b)
    assert len(fake.requests) == 2
    b.close()


def test_a_client_error_is_not_retried(fake):
    fake.set_responder(lambda request: error_response(403))
    b = brain(fake, attempts=5, sleeps=Sleeps())
    with pytest.raises(LlmError) as info:
        reply(b)
    assert not info.value.retryable and len(fake.requests) == 1
    b.close()


def test_empty_answers_are_retried_by_us_within_the_same_budget(fake):
    sleeps = Sleeps()
    b = brain(fake, attempts=3, sleeps=sleeps)
    fake.push(text_response(None), error_response(503), text_response(GOOD_REPLY))
    assert reply(b) == GOOD_REPLY and len(fake.requests) == 3 and len(sleeps) == 1
    fake.set_responder(lambda request: text_response(""))
    with pytest.raises(LlmError):
        reply(b)
    assert len(fake.requests) == 6  # never more than the attempts budget
    b.close()
