"""Typed VK errors that callers act on.

Every failure of a VK call made through `app.vk.api.VkClient` surfaces as a `VkError`
subclass; vk_api and requests exceptions never leak out of the client.
"""
from __future__ import annotations

RATE_LIMIT_CODES = frozenset({6, 9})  # 6: too many requests per second, 9: flood control
CANNOT_SEND_CODES = frozenset({901, 902})  # no permission / privacy settings
PRIVACY = 902
BOT_FEATURE_OFF = 912  # the community's chat-bot feature is switched off
REPLY_TIMED_OUT = 950  # the default intent outside VK's reply window
INTENT_DENIED = 943  # the intent may not be used (e.g. the user has no subscription)
INTENT_LIMIT = 944  # the intent's limit is spent
REFUSAL_CODES = frozenset({REPLY_TIMED_OUT, INTENT_DENIED, INTENT_LIMIT})
PERMISSION_DENIED = 7
MESSAGE_TOO_LONG = 914
CAPTCHA_NEEDED = 14
SERVER_ERROR_CODES = frozenset({5, 10})  # 5: auth failed (bad token), 10: VK internal error


class VkError(Exception):
    """Base class. `code` is VK's error_code (None for network problems)."""

    def __init__(self, message: str = "", *, code: int | None = None,
                 method: str | None = None) -> None:
        super().__init__(message or f"VK error {code}")
        self.code = code
        self.method = method


class VkRateLimited(VkError):
    """Codes 6 and 9, still failing after the client's bounded retries."""

    def __init__(self, message: str = "", *, code: int | None = None,
                 method: str | None = None, retry_after: float = 1.0) -> None:
        super().__init__(message, code=code, method=method)
        self.retry_after = retry_after


class VkCannotSend(VkError):
    """The peer cannot be written to (901, 902)."""


class VkPrivacy(VkCannotSend):
    """Code 902: the user's privacy settings forbid messages from the community."""


class VkRefused(VkError):
    """VK refused this send under its rules for communities (950/943/944). Not transient:
    retrying the same call gives the same answer; only a different allowed path may work."""


class VkReplyWindowClosed(VkRefused):
    """Code 950: the default intent outside the reply window after the user's last message."""


class VkIntentDenied(VkRefused):
    """Code 943: this intent may not be used for this user (no subscription, wrong kind)."""


class VkIntentLimit(VkRefused):
    """Code 944: the limit of messages with this intent is spent."""


class VkBotFeatureOff(VkError):
    """Code 912: the community's chat-bot feature is off (an admin must switch it on)."""


class VkMessageTooLong(VkError):
    """Code 914."""


class VkServerError(VkError):
    """A problem on VK's side or with our token, not the client's: VK internal error (10),
    authorisation failure (5) or permission denied (7). Shown in /healthz."""


class VkCaptcha(VkError):
    """Code 14: VK wants a captcha solved; a bot cannot, so treat as a failure."""


class VkNetworkError(VkError):
    """Connection error, timeout, non-200 HTTP answer or unreadable body."""


def error_from_code(code: int, message: str, method: str | None,
                    retry_after: float = 1.0) -> VkError:
    """Map a VK error_code to the matching exception instance."""
    if code in RATE_LIMIT_CODES:
        return VkRateLimited(message, code=code, method=method, retry_after=retry_after)
    refused = {REPLY_TIMED_OUT: VkReplyWindowClosed, INTENT_DENIED: VkIntentDenied,
               INTENT_LIMIT: VkIntentLimit, BOT_FEATURE_OFF: VkBotFeatureOff,
               PRIVACY: VkPrivacy}.get(code)
    if refused is not None:
        return refused(message, code=code, method=method)
    if code in CANNOT_SEND_CODES:  # about this user; 7 is about our token: not the client's fault
        return VkCannotSend(message, code=code, method=method)
    if code == PERMISSION_DENIED:
        return VkServerError(message, code=code, method=method)
    if code == MESSAGE_TOO_LONG:
        return VkMessageTooLong(message, code=code, method=method)
    if code in SERVER_ERROR_CODES:
        return VkServerError(message, code=code, method=method)
    if code == CAPTCHA_NEEDED:
        return VkCaptcha(message, code=code, method=method)
    return VkError(message, code=code, method=method)
