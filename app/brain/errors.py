"""Errors of a model provider, raised by any `Brain` implementation (Gemini today).

Callers (the engine, the turn pipeline) catch these without importing a provider.
"""
from __future__ import annotations


class LlmError(Exception):
    """Any failure of a model call; `retryable` tells whether trying again may help."""

    retryable = False


class LlmTimeout(LlmError):
    retryable = True


class LlmRateLimited(LlmError):
    retryable = True


class LlmServerError(LlmError):
    retryable = True


class LlmBlocked(LlmError):
    """SAFETY block (not retried) or an empty answer (retried)."""

    def __init__(self, message: str, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable


class LlmInvalidOutput(LlmError):
    pass
