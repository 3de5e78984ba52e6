"""The embedded PostgreSQL for tests: one server per test session, fresh databases on demand."""
from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text

from app.platform.migrate import alembic_config

ROOT = Path(__file__).resolve().parents[1]


class TestPostgres:
    def __init__(self) -> None:
        import pgserver

        self.dir = Path(tempfile.mkdtemp(prefix="neuro-test-pg-"))
        self.server = pgserver.get_server(self.dir / "pg", cleanup_mode="delete")
        self.admin_url = self.server.get_uri("postgres").replace(
            "postgresql://", "postgresql+psycopg2://", 1)

    def create_database(self, migrate: bool = True) -> str:
        name = "t_" + uuid.uuid4().hex[:12]
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        url = self.admin_url.replace("/postgres?", f"/{name}?", 1)
        if migrate:
            alembic_upgrade(url)
        return url

    def stop(self) -> None:
        self.server.cleanup()


def alembic_upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


