"""Bounded downloads of what clients attach (voice notes, photos, image documents).

Only from VK's hosts (configurable: tests serve files from 127.0.0.1), https unless the host is
the loopback, a size limit checked while reading (a missing or lying Content-Length changes
nothing), and one deadline for the whole download (a server that trickles bytes cannot hold a
worker). Every failure is a `MediaError` with a reason safe to log and to show staff.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

log = logging.getLogger(__name__)
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
CHUNK = 64 * 1024


class MediaError(Exception):
    """The file could not be fetched within the rules (the reason says why)."""


@dataclass(frozen=True)
class MediaLimits:
    allowed_hosts: tuple[str, ...]
    max_bytes: int
    timeout_s: float

    @classmethod
    def of(cls, settings: object) -> "MediaLimits":
        return cls(allowed_hosts=settings.media_hosts,  # type: ignore[attr-defined]
                   max_bytes=settings.vk_media_max_bytes,  # type: ignore[attr-defined]
                   timeout_s=settings.vk_media_timeout_s)  # type: ignore[attr-defined]


def host_allowed(url: str, allowed: tuple[str, ...]) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host or parts.scheme not in ("https", "http"):
        return False
    if parts.scheme == "http" and host not in _LOOPBACK:
        return False  # VK serves files over https; plain http only from a local stand-in
    return any(host == h or host.endswith("." + h) for h in allowed)


def fetch(url: str | None, limits: MediaLimits, session: requests.Session | None = None) -> bytes:
    """The file's bytes, or MediaError."""
    if not url:
        raise MediaError("no URL in the attachment")
    if not host_allowed(url, limits.allowed_hosts):
        raise MediaError(f"host of {url[:80]!r} is not an allowed VK host")
    deadline = time.monotonic() + limits.timeout_s
    http = session or requests
    try:
        with http.get(url, stream=True, timeout=(min(5.0, limits.timeout_s), limits.timeout_s),
                      allow_redirects=False) as resp:
            if resp.status_code != 200:
                raise MediaError(f"HTTP {resp.status_code}")
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > limits.max_bytes:
                raise MediaError(f"file of {int(declared)} bytes is over the limit "
                                 f"of {limits.max_bytes}")
            return _read(resp, limits.max_bytes, deadline)
    except requests.RequestException as exc:
        raise MediaError(f"download failed: {type(exc).__name__}") from exc


def _read(resp: requests.Response, max_bytes: int, deadline: float) -> bytes:
    body = bytearray()
    for chunk in resp.iter_content(CHUNK):
        body += chunk
        if len(body) > max_bytes:
            raise MediaError(f"file is over the limit of {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise MediaError("download took longer than the time limit")
    if not body:
        raise MediaError("empty file")
    return bytes(body)
