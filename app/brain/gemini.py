"""The Gemini provider of the two model calls (google-genai SDK).

The SDK retries nothing by default; we retry ourselves (timeouts, 429, 5xx, empty answers)
with exponential backoff and jitter, and map every failure to an `LlmError`.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import httpx2
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gtypes

from app.brain.errors import (LlmBlocked, LlmError, LlmInvalidOutput, LlmRateLimited,
                              LlmServerError, LlmTimeout)
from app.brain.analysis import ANALYSIS_SCHEMA, AnalysisInvalid, parse_analysis
from app.brain.prompting import build_analysis_content, build_reply_content, clip
from app.brain.prompts import load_prompt
from app.brain.types import Decisions, StageResult, TurnContext, Usage


@dataclass
class _Answer:
    text: str
    usage: Usage


REPAIR_PROMPT = ("Твой ответ не прошёл проверку по схеме. Ошибка:\n{error}\n\n"
                 "Верни исправленный анализ: один JSON-объект строго по схеме, без пояснений.")


def _map_error(exc: Exception) -> LlmError:
    if isinstance(exc, genai_errors.ClientError):
        if exc.code == 429:
            return LlmRateLimited(f"rate limited: {exc.message or exc.status}")
        if exc.code == 408:
            return LlmTimeout("request timeout (408)")
        return LlmError(f"client error {exc.code}: {exc.status}")
    if isinstance(exc, genai_errors.ServerError):
        return LlmServerError(f"server error {exc.code}: {exc.status}")
    if isinstance(exc, httpx2.TimeoutException):
        return LlmTimeout(f"timeout: {type(exc).__name__}")
    if isinstance(exc, httpx2.TransportError):
        return LlmServerError(f"transport error: {type(exc).__name__}")
    return LlmError(f"unexpected {type(exc).__name__}: {exc}")


def _text_of(response: Any) -> str:
    candidates = response.candidates or []
    reason = candidates[0].finish_reason if candidates else None
    blocked = getattr(response.prompt_feedback, "block_reason", None)
    if blocked or (reason is not None and str(getattr(reason, "value", reason)) in
                   ("SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII")):
        raise LlmBlocked(f"blocked: {blocked or reason}")
    text = response.text
    if not text or not text.strip():
        raise LlmBlocked(f"empty answer (finish reason {reason})", retryable=True)
    return text


class GeminiBrain:
    """`api_version` defaults to v1beta: structured output (responseJsonSchema) is documented
    there; the SDK's own default is v1."""

    def __init__(self, api_key: str, analysis_model: str, reply_model: str,
                 base_url: Optional[str] = None,
                 timeout_s: float = 30.0, max_attempts: int = 3, backoff_base_s: float = 0.5,
                 *, api_version: Optional[str] = "v1beta", max_connections: int = 64,
                 sleep: Callable[[float], None] = time.sleep, name: str = "gemini"):
        self.name = name
        self.analysis_model = analysis_model
        self.reply_model = reply_model
        self.max_attempts = max(1, max_attempts)
        self.backoff_base_s = backoff_base_s
        self._sleep = sleep
        limits = httpx2.Limits(max_connections=max_connections,
                               max_keepalive_connections=max(1, max_connections // 2))
        options = gtypes.HttpOptions(base_url=base_url, api_version=api_version,
                                     timeout=int(timeout_s * 1000),
                                     client_args={"limits": limits})
        self._client = genai.Client(api_key=api_key, http_options=options)

    def _backoff(self, attempt: int) -> float:
        return self.backoff_base_s * (2 ** (attempt - 1)) * (0.5 + random.random())

    def _generate(self, model: str, contents: Any, config: gtypes.GenerateContentConfig) -> _Answer:
        started = time.monotonic()
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = self._client.models.generate_content(
                    model=model, contents=contents, config=config)
                text = _text_of(response)
            except LlmError as exc:
                error = exc
            except (genai_errors.APIError, httpx2.HTTPError) as exc:
                error = _map_error(exc)
            else:
                meta = response.usage_metadata
                usage = Usage(model=model, attempts=attempt,
                              prompt_tokens=(meta.prompt_token_count or 0) if meta else 0,
                              output_tokens=(meta.candidates_token_count or 0) if meta else 0,
                              latency_ms=int((time.monotonic() - started) * 1000))
                return _Answer(text=text, usage=usage)
            if not error.retryable or attempt == self.max_attempts:
                raise error
            self._sleep(self._backoff(attempt))
        raise AssertionError("unreachable")

    def analyze(self, ctx: TurnContext) -> StageResult:
        system = load_prompt("analysis")
        content = build_analysis_content(ctx)
        config = gtypes.GenerateContentConfig(
            system_instruction=system, temperature=0.2,
            response_mime_type="application/json", response_json_schema=ANALYSIS_SCHEMA)
        answer = self._generate(self.analysis_model, content, config)
        try:
            analysis = parse_analysis(answer.text)
        except AnalysisInvalid as first:
            repair = [
                gtypes.Content(role="user", parts=[gtypes.Part(text=content)]),
                gtypes.Content(role="model", parts=[gtypes.Part(text=clip(answer.text, 6000))]),
                gtypes.Content(role="user", parts=[gtypes.Part(
                    text=REPAIR_PROMPT.format(error=clip(str(first), 2000)))]),
            ]
            fixed = self._generate(self.analysis_model, repair, config)
            answer.usage = _merge(answer.usage, fixed.usage)
            try:
                analysis = parse_analysis(fixed.text)
            except AnalysisInvalid as second:
                raise LlmInvalidOutput(f"analysis invalid after repair: {clip(str(second), 500)}") \
                    from second
        return StageResult(value=analysis, usage=answer.usage,
                           prompt_chars=len(system) + len(content))

    def write_reply(self, ctx: TurnContext, analysis: Any, decisions: Decisions) -> StageResult:
        system = load_prompt("reply" if ctx.kind == "reply" else "reminder")
        content = build_reply_content(ctx, analysis, decisions)
        config = gtypes.GenerateContentConfig(system_instruction=system, temperature=0.7)
        answer = self._generate(self.reply_model, content, config)
        return StageResult(value=answer.text.strip(), usage=answer.usage,
                           prompt_chars=len(system) + len(content))

    def close(self) -> None:
        self._client.close()


def _merge(a: Usage, b: Usage) -> Usage:
    return Usage(model=a.model, prompt_tokens=a.prompt_tokens + b.prompt_tokens,
                 output_tokens=a.output_tokens + b.output_tokens,
                 latency_ms=a.latency_ms + b.latency_ms, attempts=a.attempts + b.attempts)
