"""The outbound seam: everything the app sends to a person goes through an `OutboundChannel`.

Three implementations: `VkClient` (vk_api, production and the HTTP stand-ins), the
`CollectingChannel` (in-process: tests read what was sent instead of mocking), and the
`UnconfiguredChannel` of a CLI run or a deployed app without a VK token (refuses clearly).
"""
from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional, Protocol, runtime_checkable

from app.vk.errors import VkError


@dataclass(frozen=True)
class OutboundMessage:
    """One VK message: text, plus an optional inline keyboard (JSON) and a send intent."""

    peer_id: int
    text: str
    random_id: int
    keyboard: Optional[str] = None  # JSON of vk_api.keyboard.VkKeyboard(inline=True)
    intent: Optional[str] = None  # messages.send intent; None = VK's default
    subscribe_id: Optional[int] = None


@runtime_checkable
class OutboundChannel(Protocol):
    def send(self, message: OutboundMessage) -> list[int]:
        """Send one message (split by the channel when too long); returns VK message ids.
        Sending the same `random_id` again is safe: VK drops the repeat."""
        ...

    def set_typing(self, peer_id: int) -> None:
        """Show "typing…"; cosmetic, never raises."""
        ...

    def answer_event(self, event_id: str, user_id: int, peer_id: int,
                     event_data: Optional[dict[str, Any]] = None) -> None:
        """Answer a callback button press (`messages.sendMessageEventAnswer`); raises VkError."""
        ...

    def get_user_name(self, user_id: int) -> Optional[tuple[str, str]]:
        """(first, last) of a VK user; raises VkError."""
        ...

    def health(self) -> dict[str, Any]: ...


@dataclass
class CollectingChannel:
    """In-process channel that keeps what was sent; `fail_with` makes the next sends raise."""

    names: dict[int, tuple[str, str]] = field(default_factory=dict)
    sent: list[OutboundMessage] = field(default_factory=list)
    typing: list[int] = field(default_factory=list)
    answered: list[tuple[str, int, int, Optional[dict[str, Any]]]] = field(default_factory=list)
    fail_with: list[VkError] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _by_random_id: dict[tuple[int, int], int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, message: OutboundMessage) -> list[int]:
        with self._lock:
            if self.fail_with:
                raise self.fail_with.pop(0)
            key = (message.peer_id, message.random_id)
            if key not in self._by_random_id:  # like VK: a repeated random_id is dropped
                self._by_random_id[key] = next(self._ids)
                self.sent.append(message)
            return [self._by_random_id[key]]

    def set_typing(self, peer_id: int) -> None:
        with self._lock:
            self.typing.append(peer_id)

    def answer_event(self, event_id: str, user_id: int, peer_id: int,
                     event_data: Optional[dict[str, Any]] = None) -> None:
        with self._lock:
            self.answered.append((event_id, user_id, peer_id, event_data))

    def get_user_name(self, user_id: int) -> Optional[tuple[str, str]]:
        return self.names.get(user_id)

    def texts(self, peer_id: Optional[int] = None) -> list[str]:
        with self._lock:
            return [m.text for m in self.sent if peer_id is None or m.peer_id == peer_id]

    def health(self) -> dict[str, Any]:
        return {"calls": len(self.sent), "errors": {}, "last_error": None}


class UnconfiguredChannel:
    """No VK token: nothing can be sent; the reason is clear in logs, errors and /healthz."""

    REASON = "VK_GROUP_TOKEN is not set: messages cannot be sent to VK"

    def send(self, message: OutboundMessage) -> list[int]:
        raise VkError(self.REASON, method="messages.send")

    def set_typing(self, peer_id: int) -> None:
        return None

    def answer_event(self, event_id: str, user_id: int, peer_id: int,
                     event_data: Optional[dict[str, Any]] = None) -> None:
        raise VkError(self.REASON, method="messages.sendMessageEventAnswer")

    def get_user_name(self, user_id: int) -> Optional[tuple[str, str]]:
        raise VkError(self.REASON, method="users.get")

    def health(self) -> dict[str, Any]:
        return {"calls": 0, "errors": {}, "last_error": None, "configured": False,
                "reason": self.REASON}
