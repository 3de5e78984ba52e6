"""Local mode versus a deployed app, and the session signing key.

Local mode (`make run`, or `LOCAL_MODE=1` explicitly) gets the chat page `/dev/chat` with a VK
stand-in and a random signing key kept under `.data/`. It is never local when Railway is
detected or `DATABASE_URL` points at a server, whatever `LOCAL_MODE` and `VK_GROUP_TOKEN` say.
A deployed app with the staff panel on (ADMIN_PASSWORD) refuses to start without a SECRET_KEY
of real length: a key derived from the password would let anyone test passwords offline
against a cookie from /admin/login. A deployed app with a VK token refuses to start without
VK_SECRET (unauthenticated callbacks could forge any client's messages).
"""
from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:
    from app.platform.config import Settings

log = logging.getLogger(__name__)
MIN_SECRET_KEY_CHARS = 32
MIN_DISTINCT_CHARS = 10  # a hex token has ~16; 32 × "a" or "ab" × 16 have 1 or 2
MIN_PASSWORD_IN_KEY = 4  # a shorter password inside a random key is a coincidence, not a leak
LOCAL_HOSTS = ("", "localhost", "127.0.0.1", "::1")
KEY_FILE = "secret_key"


class ConfigError(RuntimeError):
    """The app must not start with this configuration; the message says what to set."""


def _local_host(value: str) -> bool:
    """A libpq host value on this machine: a socket directory or a loopback name/address."""
    value = value.strip()
    return value.startswith("/") or value.lower().strip("[]") in LOCAL_HOSTS


def server_database(url: str | None) -> bool:
    """DATABASE_URL of a server (not the embedded/local PostgreSQL on this machine). libpq also
    takes the host from `?host=` / `?hostaddr=` (comma-separated lists, repeated keys), from a
    `?service=` file, and from PGHOST / PGHOSTADDR / PGSERVICE when the URL names none: every
    one of them must be local."""
    if not url:
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        query = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        return True
    named: list[str] = [host] if host else []
    for key, value in query:
        key = key.lower()
        if key == "service":
            return True  # hosts from a service file we do not read
        if key in ("host", "hostaddr"):
            named += value.split(",")
    if not named:
        if os.environ.get("PGSERVICE"):
            return True
        named = [v for k in ("PGHOST", "PGHOSTADDR") for v in
                 (os.environ.get(k) or "").split(",") if v]
    return not all(_local_host(h) for h in named)


def is_local(settings: Settings) -> bool:
    if not settings.local_mode:
        return False
    if settings.on_railway or server_database(settings.database_url):
        log.warning("LOCAL_MODE ignored: %s detected, the local chat stays off",
                    "Railway" if settings.on_railway else "a server DATABASE_URL")
        return False
    return True


def weak_key(key: str, admin_password: str | None) -> str | None:
    """Why `key` (already stripped) cannot sign the panel's sessions, or None."""
    if not key:
        return "is not set"
    if len(key) < MIN_SECRET_KEY_CHARS:
        return "is too short"
    if len(set(key)) < MIN_DISTINCT_CHARS:
        return f"has too little variety (fewer than {MIN_DISTINCT_CHARS} different characters)"
    password = (admin_password or "").strip()
    if len(password) >= MIN_PASSWORD_IN_KEY and password.lower() in key.lower():
        return "contains ADMIN_PASSWORD"
    return None


def secret_key(settings: Settings, local: bool, cli_run: bool) -> str:
    given = (settings.secret_key or "").strip()
    if local:
        return given or _stored_key(Path(settings.data_dir))
    if cli_run:  # `flask …` commands sign no sessions
        return given or secrets.token_hex(32)
    problem = weak_key(given, settings.admin_password) if settings.admin_password else None
    if problem:
        raise ConfigError(
            f"SECRET_KEY {problem}: a deployed app with the "
            f"staff panel (ADMIN_PASSWORD) needs a random SECRET_KEY of at least "
            f"{MIN_SECRET_KEY_CHARS} characters, e.g. `python -c \"import secrets; "
            f"print(secrets.token_hex(32))\"`. (Locally use `make run` or LOCAL_MODE=1.)")
    return given or secrets.token_hex(32)  # no panel: nothing to keep across restarts


def require_vk_secret(settings: Settings, local: bool, cli_run: bool) -> None:
    """A deployed app talking to VK authenticates its callback: without VK_SECRET anyone could
    post events to /vk/callback (forged messages, names, button presses)."""
    if local or cli_run or not settings.vk_configured:
        return
    if not (settings.vk_secret or "").strip():
        raise ConfigError(
            "VK_SECRET is not set: a deployed app with VK_GROUP_TOKEN must authenticate VK's "
            "callbacks. Set a secret key in the community's Callback API settings (Manage → API "
            "usage → Callback API → Secret key) and the same value as VK_SECRET. (Locally use "
            "`make run` or LOCAL_MODE=1.)")


def _stored_key(data_dir: Path) -> str:
    """A random key created once and kept in `.data/secret_key` (readable by the owner only)."""
    path = data_dir / KEY_FILE
    try:
        key = path.read_text(encoding="utf-8").strip()
        if len(key) >= MIN_SECRET_KEY_CHARS:
            return key
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(key)
    return key
