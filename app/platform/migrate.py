"""Applying the Alembic migrations from code: `make run` and the embedded local database.

Production never migrates in the web start (railway.json runs `alembic upgrade head` before
deploy); only the local embedded PostgreSQL is brought to head on first use, so `flask …`
commands work on a fresh checkout too."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, pool, text

if TYPE_CHECKING:
    from alembic.config import Config

ROOT = Path(__file__).resolve().parents[2]
LOCK_KEY = 7_241_139_012


def alembic_config(url: str) -> "Config":
    """Alembic's config for this repository, pointed at `url` (its own logging left alone)."""
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = url
    cfg.attributes["configure_logging"] = False
    return cfg


def upgrade_head(url: str) -> None:
    from alembic import command

    cfg = alembic_config(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:  # one migrator at a time (several processes may start)
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_KEY})
        try:
            command.upgrade(cfg, "head")
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
    engine.dispose()


def embedded_url_at_head(data_dir: str) -> str:
    from app.platform.db import embedded_database_url

    url = embedded_database_url(data_dir)
    upgrade_head(url)
    return url
