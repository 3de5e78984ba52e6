"""Local mode versus a deployed app, and the session signing key.

Local mode (`make run`, or `LOCAL_MODE=1` explicitly) gets the chat page `/dev/chat` with a VK
stand-in and a random signing key kept under `.data/`. It is never local when Railway is
detected or `DATABASE_URL` points at a server, whatever `LOCAL_MODE` and `VK_GROUP_TOKEN` say.
A deployed app with the staff panel on (ADMIN_PASSWORD) refuses to start without a SECRET_KEY
of real length: a key derived from the password would let anyone test passwords offline
against a cookie from /admin/login.
"""
from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from app.platform.config import Settings

log = logging.getLogger(__name__)
MIN_SECRET_KEY_CHARS = 32
LOCAL_HOSTS = ("", "localhost", "127.0.0.1", "::1")
KEY_FILE = "secret_key"


class ConfigError(RuntimeError):
    """The app must not start with this configuration; the message says what to set."""


def server_database(url: str | None) -> bool:
    """DATABASE_URL of a server (not the embedded/local PostgreSQL on this machine)."""
    if not url:
        return False
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return True
    return host.lower() not in LOCAL_HOSTS


def is_local(settings: Settings) -> bool:
    if not settings.local_mode:
        return False
    if settings.on_railway or server_database(settings.database_url):
        log.warning("LOCAL_MODE ignored: %s detected, the local chat stays off",
                    "Railway" if settings.on_railway else "a server DATABASE_URL")
        return False
    return True


def secret_key(settings: Settings, local: bool, cli_run: bool) -> str:
    given = settings.secret_key or ""
    if local:
        return given or _stored_key(Path(settings.data_dir))
    if cli_run:  # `flask …` commands sign no sessions
        return given or secrets.token_hex(32)
    if settings.admin_password and len(given) < MIN_SECRET_KEY_CHARS:
        raise ConfigError(
            f"SECRET_KEY {'is too short' if given else 'is not set'}: a deployed app with the "
            f"staff panel (ADMIN_PASSWORD) needs a random SECRET_KEY of at least "
            f"{MIN_SECRET_KEY_CHARS} characters, e.g. `python -c \"import secrets; "
            f"print(secrets.token_hex(32))\"`. (Locally use `make run` or LOCAL_MODE=1.)")
    return given or secrets.token_hex(32)  # no panel: nothing to keep across restarts


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
