"""VK's rules for community sends, as the local stand-in simulates them: the reply window of the
default intent, subscriptions of intents that need them, spent intent limits. Thread-safe."""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Optional

# VK's own error texts (error_msg) for the codes the stand-in answers with
ERROR_MESSAGES = {
    3: "Unknown method passed",
    5: "User authorization failed: no access_token passed.",
    6: "Too many requests per second",
    7: "Permission to perform this action is denied",
    9: "Flood control",
    10: "Internal server error",
    14: "Captcha needed",
    100: "One of the parameters specified was missing or invalid",
    113: "Invalid user id",
    901: "Can't send messages for users without permission",
    902: "Can't send messages to this user due to their privacy settings",
    912: "This is a chat bot feature, change this status in settings",
    914: "Message is too long",
    943: "Cannot use this intent",
    944: "Limits overflow for this intent",
    950: "Can't send message, reply timed out",
}
SUBSCRIPTION_INTENTS = ("confirmed_notification", "non_promo_newsletter", "promo_newsletter")


class SendRules:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inbound: dict[int, datetime] = {}
        self._window_s: Optional[float] = None
        self._subscribed: set[tuple[int, str, Optional[int]]] = set()
        self._check_subscriptions = False
        self._spent: set[str] = set()

    def set_reply_window(self, seconds: Optional[float]) -> None:
        """The default intent only within `seconds` of the peer's last message (peers with no
        recorded message are not checked); None switches the rule off."""
        with self._lock:
            self._window_s = None if seconds is None else float(seconds)

    def note_inbound(self, peer_id: int, at: Optional[datetime] = None) -> None:
        """The peer wrote to the community at `at` (now by default): the window opens."""
        with self._lock:
            self._inbound[int(peer_id)] = at or datetime.now(timezone.utc)

    def require_subscriptions(self, on: bool = True) -> None:
        """Sends with a subscription intent fail with 943 unless the peer subscribed."""
        with self._lock:
            self._check_subscriptions = on

    def subscribe(self, peer_id: int, intent: str, subscribe_id: Optional[int] = None) -> None:
        """The peer pressed an intent_subscribe button for `intent` (and `subscribe_id`)."""
        with self._lock:
            self._subscribed.add((int(peer_id), intent, subscribe_id))

    def unsubscribe(self, peer_id: int, intent: str, subscribe_id: Optional[int] = None) -> None:
        """The peer pressed an intent_unsubscribe button."""
        with self._lock:
            self._subscribed.discard((int(peer_id), intent, subscribe_id))

    def subscribers(self, intent: str, subscribe_id: Optional[int] = None) -> list[int]:
        """`messages.getIntentUsers`: who subscribed to (intent, subscribe_id)."""
        with self._lock:
            return sorted(p for p, i, sid in self._subscribed
                          if i == intent and sid == subscribe_id)

    def spend_intent(self, intent: str) -> None:
        """Sends with `intent` fail with 944 (its limit is spent)."""
        with self._lock:
            self._spent.add(intent)

    def refusal(self, peer_id: int, intent: str,
                subscribe_id: Optional[int] = None) -> Optional[int]:
        """VK's error code for this send, or None when VK would accept it."""
        with self._lock:
            if intent == "default":
                last = self._inbound.get(peer_id)
                late = self._window_s is not None and last is not None and \
                    (datetime.now(timezone.utc) - last).total_seconds() > self._window_s
                return 950 if late else None
            if intent in self._spent:
                return 944
            if self._check_subscriptions and intent in SUBSCRIPTION_INTENTS \
                    and (peer_id, intent, subscribe_id) not in self._subscribed \
                    and (subscribe_id is not None or not any(
                        p == peer_id and i == intent for p, i, _ in self._subscribed)):
                return 943
            return None
