"""Bounded downloads of what clients attach (voice notes, photos, image documents).

Only from VK's hosts (configurable: tests serve files from 127.0.0.1), https unless the host is
the loopback, a size limit checked while reading (a missing or lying Content-Length changes
nothing), and one deadline for the whole download (a server that trickles bytes cannot hold a
worker). Every failure is a `MediaError` with a reason safe to log and to show staff.
"""
from __future__ import annotations

import logging
import re
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import urlsplit

import requests
import urllib3

log = logging.getLogger(__name__)
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
CHUNK = 64 * 1024
# what a checked authority may hold: an ASCII host name (letters, digits, dots, hyphens) and an
# optional decimal port; no userinfo, no backslash, no percent-escape, nothing non-ASCII
_HOST_RE = re.compile(r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?")
_PORT_RE = re.compile(r"[0-9]{1,5}")


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


def _unsafe_chars(url: str) -> bool:
    """Characters that parsers disagree on: a backslash (`requests` reads it as the end of the
    host, `urlsplit` does not), whitespace and control characters (stripped by some). Non-ASCII
    is refused in the authority by the host pattern (IDNA folds e.g. a fullwidth dot)."""
    return any(c == "\\" or c <= " " or c == "\x7f" for c in url)


def checked_url(url: Any, allowed: tuple[str, ...]) -> Optional[str]:
    """The URL rebuilt from its checked parts (scheme, host, port, path, query), or None when it
    is not a plain http(s) URL of an allowed host. Only the rebuilt URL is ever fetched, so what
    was checked is what is connected to."""
    if not isinstance(url, str) or not url or len(url) > 4000 or _unsafe_chars(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # "https://[vk.com/x": a malformed file is refused, never an exception
        return None
    scheme, netloc = parts.scheme.lower(), parts.netloc.lower()
    if scheme not in ("https", "http") or "@" in netloc or "[" in netloc or "]" in netloc:
        return None
    host, _, port = netloc.partition(":")
    if not _HOST_RE.fullmatch(host) or (port and not (_PORT_RE.fullmatch(port)
                                                      and 0 < int(port) < 65536)):
        return None
    if ":" in netloc and not port:
        return None
    if scheme == "http" and host not in _LOOPBACK:
        return None  # VK serves files over https; plain http only from a local stand-in
    if not any(host == h or host.endswith("." + h) for h in allowed):
        return None
    path = parts.path or "/"
    if not path.startswith("/"):
        return None
    return f"{scheme}://{host}{':' + port if port else ''}{path}" + \
        (f"?{parts.query}" if parts.query else "")


def host_allowed(url: str, allowed: tuple[str, ...]) -> bool:
    return checked_url(url, allowed) is not None


def fetch(url: str | None, limits: MediaLimits, session: requests.Session | None = None) -> bytes:
    """The file's bytes, or MediaError."""
    if not url:
        raise MediaError("no URL in the attachment")
    safe = checked_url(url, limits.allowed_hosts)
    if safe is None:
        raise MediaError(f"{url[:80]!r} is not an allowed VK host or not a plain URL")
    deadline = time.monotonic() + limits.timeout_s
    http = session or requests
    try:
        with http.get(safe, stream=True, timeout=(min(5.0, limits.timeout_s), limits.timeout_s),
                      allow_redirects=False) as resp:
            if resp.status_code != 200:
                raise MediaError(f"HTTP {resp.status_code}")
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > limits.max_bytes:
                raise MediaError(f"file of {int(declared)} bytes is over the limit "
                                 f"of {limits.max_bytes}")
            return _read(resp, limits.max_bytes, deadline)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError,
            ValueError) as exc:  # a read timed out by the deadline is a failed download too
        raise MediaError(f"download failed: {type(exc).__name__}") from exc


def _socket(resp: requests.Response) -> Optional[socket.socket]:
    conn = getattr(resp.raw, "connection", None) or getattr(resp.raw, "_connection", None)
    sock = getattr(conn, "sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _cut(sock: socket.socket) -> None:
    """The deadline passed inside one read (a chunk header or a decoder reading on): end it.
    The plain socket's shutdown (not SSLSocket's, which would drop its TLS state meanwhile)."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


def _read(resp: requests.Response, max_bytes: int, deadline: float) -> bytes:
    """Read with the socket's timeout set to the time left before each read, one network read
    at a time (`read1`), so a server trickling a byte at a time cannot outlast the deadline; a
    watchdog shuts the socket at the deadline for reads that loop inside (chunk headers)."""
    sock = _socket(resp)
    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _cut, (sock,)) \
        if sock is not None else None
    if watchdog is not None:
        watchdog.daemon = True
        watchdog.start()
    body = bytearray()
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise MediaError("download took longer than the time limit")
            if sock is not None:
                sock.settimeout(left)
            chunk = resp.raw.read1(CHUNK, decode_content=True) if hasattr(resp.raw, "read1") \
                else resp.raw.read(CHUNK, decode_content=True)
            if not chunk:
                break
            body += chunk
            if len(body) > max_bytes:
                raise MediaError(f"file is over the limit of {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise MediaError("download took longer than the time limit")
    finally:
        if watchdog is not None:
            watchdog.cancel()
    if not body:
        raise MediaError("empty file")
    return bytes(body)
