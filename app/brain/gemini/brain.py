"""The Gemini provider of the two model calls (google-genai SDK).

Transient HTTP failures (408, 429, 5xx, timeouts, refused connections) are retried by the SDK
itself (`HttpOptions.retry_options`: exponential backoff with jitter). We retry only what it
cannot see — an empty answer, a connection broken mid-response — within the same attempt budget,
and map every failure to an `LlmError`. Each attempt has its own timeout, so one call takes at
most `max_attempts × timeout_s` plus the backoff delays.
"""
from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

import httpx2
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gtypes

from app.brain.analysis import ANALYSIS_SCHEMA, AnalysisInvalid, parse_analysis
from app.brain.contract import Decisions, StageResult, TurnContext, Usage
from app.brain.errors import (
    LlmBlocked,
    LlmError,
    LlmInvalidOutput,
    LlmRateLimited,
    LlmServerError,
    LlmTimeout,
)
from app.brain.gemini.config import StageConfig, generation_config
from app.brain.prompts import DEFAULT_PROMPTS, PromptSet
from app.brain.prompts.media import media_note
from app.brain.prompts.render import (
    DEFAULT_KB_TOKEN_BUDGET,
    build_analysis_content,
    build_reply_content,
    clip,
)

if TYPE_CHECKING:
    from app.brain.analysis import Analysis


# What the SDK retries by itself (its defaults too; spelled out so the policy is ours)
RETRY_STATUS_CODES = (408, 429, 500, 502, 503, 504)
MAX_BACKOFF_S = 8.0
def retry_options(attempts: int, backoff_base_s: float) -> gtypes.HttpRetryOptions:
    """Delays base·2^(n-1) plus up to `base` of jitter, capped at MAX_BACKOFF_S."""
    return gtypes.HttpRetryOptions(
        attempts=attempts, initial_delay=backoff_base_s, max_delay=MAX_BACKOFF_S, exp_base=2.0,
        jitter=backoff_base_s, http_status_codes=list(RETRY_STATUS_CODES))


class _AttemptCounter(threading.local):
    """HTTP requests sent by this thread: the SDK retries out of sight, an httpx hook counts."""

    sent = 0

    def hook(self, request: httpx2.Request) -> None:
        self.sent += 1


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


def _sdk_retried(exc: Exception) -> bool:
    """Failures the SDK's retry policy covers (see `retry_options`)."""
    if isinstance(exc, genai_errors.APIError):
        return True  # a retryable status was retried; any other is final
    return isinstance(exc, (httpx2.TimeoutException, httpx2.ConnectError))


def _usage(model: str, response: Any, attempts: int, started: float) -> Usage:
    meta = response.usage_metadata
    return Usage(model=model, attempts=max(1, attempts),
                 prompt_tokens=(meta.prompt_token_count or 0) if meta else 0,
                 output_tokens=(meta.candidates_token_count or 0) if meta else 0,
                 cached_tokens=(meta.cached_content_token_count or 0) if meta else 0,
                 thinking_tokens=(meta.thoughts_token_count or 0) if meta else 0,
                 model_version=str(response.model_version or ""),
                 latency_ms=int((time.monotonic() - started) * 1000))


def _text_of(response: Any) -> str:
    candidates = response.candidates or []
    reason = candidates[0].finish_reason if candidates else None
    blocked = getattr(response.prompt_feedback, "block_reason", None)
    if blocked or (reason is not None and str(getattr(reason, "value", reason)) in
                   ("SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII")):
        raise LlmBlocked(f"blocked: {blocked or reason}")
    text: str | None = response.text
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
                 sleep: Callable[[float], None] = time.sleep, name: str = "gemini",
                 prompts: Optional[PromptSet] = None,
                 kb_token_budget: int = DEFAULT_KB_TOKEN_BUDGET,
                 stages: Optional[dict[str, StageConfig]] = None):
        self.name = name
        # thinking level / budget and output cap per stage (gemini.config.stage_configs)
        self.stages = {"analysis": StageConfig(), "reply": StageConfig(max_output_tokens=4096),
                       "judge": StageConfig("high", 32768), **(stages or {})}
        self.prompts = prompts or DEFAULT_PROMPTS  # another directory: the eval lab's --prompts
        self.prompt_version = self.prompts.version
        self.kb_token_budget = kb_token_budget
        self.analysis_model = analysis_model
        self.reply_model = reply_model
        self.max_attempts = max(1, max_attempts)
        self.backoff_base_s = backoff_base_s
        self._sleep = sleep
        self._attempts = _AttemptCounter()
        limits = httpx2.Limits(max_connections=max_connections,
                               max_keepalive_connections=max(1, max_connections // 2))
        options = gtypes.HttpOptions(
            base_url=base_url, api_version=api_version, timeout=int(timeout_s * 1000),
            retry_options=retry_options(self.max_attempts, backoff_base_s),
            client_args={"limits": limits, "event_hooks": {"request": [self._attempts.hook]}})
        self._client = genai.Client(api_key=api_key, http_options=options)

    def _backoff(self, attempt: int) -> float:
        return self.backoff_base_s * (2.0 ** (attempt - 1)) * (0.5 + random.random())

    def _generate(self, model: str, contents: Any, config: gtypes.GenerateContentConfig) -> _Answer:
        started = time.monotonic()
        self._attempts.sent = 0
        while True:
            try:
                response = self._client.models.generate_content(
                    model=model, contents=contents, config=config)
                text = _text_of(response)
            except LlmError as exc:
                error = exc
            except (genai_errors.APIError, httpx2.HTTPError) as exc:
                error = _map_error(exc)
                if _sdk_retried(exc):
                    raise error from exc  # the SDK spent the attempts already
            else:
                return _Answer(text=text, usage=_usage(model, response, self._attempts.sent,
                                                       started))
            if not error.retryable or self._attempts.sent >= self.max_attempts:
                raise error
            self._sleep(self._backoff(self._attempts.sent))

    @staticmethod
    def _user(content: str, ctx: TurnContext, stage: str) -> Any:
        """The prompt text, plus the client's files as inline parts (audio only for analysis,
        which transcribes it) and a note naming them; plain text when there are none."""
        note = media_note(ctx, stage)
        media = [m for m in ctx.media if stage == "analysis" or m.kind == "image"]
        if not note and not media:
            return content
        parts = [gtypes.Part(text=content + ("\n\n" + note if note else ""))]
        parts += [gtypes.Part.from_bytes(data=m.data, mime_type=m.mime_type) for m in media]
        return [gtypes.Content(role="user", parts=parts)]

    def analyze(self, ctx: TurnContext) -> StageResult:
        system = self.prompts.load("analysis")
        content = build_analysis_content(ctx, self.kb_token_budget)
        user = self._user(content, ctx, "analysis")
        config = generation_config(
            self.analysis_model, "analysis", self.stages["analysis"], system_instruction=system,
            response_mime_type="application/json", response_json_schema=ANALYSIS_SCHEMA)
        answer = self._generate(self.analysis_model, user, config)
        try:
            analysis = parse_analysis(answer.text)
        except AnalysisInvalid as first:
            first_turn = user[0] if isinstance(user, list) else \
                gtypes.Content(role="user", parts=[gtypes.Part(text=content)])
            repair = [
                first_turn,
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

    def write_reply(self, ctx: TurnContext, analysis: Optional[Analysis],
                    decisions: Decisions) -> StageResult:
        system = self.prompts.load({"reply": "reply", "followup": "followup"}.get(ctx.kind,
                                                                                 "reminder"))
        content = build_reply_content(ctx, analysis, decisions, self.kb_token_budget)
        config = generation_config(self.reply_model, "reply", self.stages["reply"],
                                   system_instruction=system)
        answer = self._generate(self.reply_model, self._user(content, ctx, "reply"), config)
        return StageResult(value=answer.text.strip(), usage=answer.usage,
                           prompt_chars=len(system) + len(content))

    def close(self) -> None:
        self._client.close()


def _merge(a: Usage, b: Usage) -> Usage:
    return Usage(model=a.model, prompt_tokens=a.prompt_tokens + b.prompt_tokens,
                 output_tokens=a.output_tokens + b.output_tokens,
                 cached_tokens=a.cached_tokens + b.cached_tokens,
                 thinking_tokens=a.thinking_tokens + b.thinking_tokens,
                 model_version=b.model_version or a.model_version,
                 latency_ms=a.latency_ms + b.latency_ms, attempts=a.attempts + b.attempts)
