"""Migrations: an empty database upgrades to head, there is one head, and the round trip works."""
from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from app import models  # noqa: F401
from app.platform.db import Base
from tests.pg import alembic_config


def test_one_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("postgresql+psycopg2://unused"))
    assert len(script.get_heads()) == 1


def test_upgrade_empty_database_then_round_trip(pg) -> None:  # noqa: ANN001
    url = pg.create_database(migrate=False)
    cfg = alembic_config(url)
    command.upgrade(cfg, "head")
    engine = create_engine(url)
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    command.downgrade(cfg, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    command.upgrade(cfg, "head")
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_models_match_migrations(pg) -> None:  # noqa: ANN001
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    url = pg.create_database(migrate=True)
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_alembic_cli_from_repo_root_with_a_railway_style_url(pg) -> None:  # noqa: ANN001
    """`alembic upgrade head` as railway.json runs it, with a `postgres://` URL."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    url = pg.create_database(migrate=False)
    railway_url = url.replace("postgresql+psycopg2://", "postgres://", 1)
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DATABASE_URL": railway_url}
    alembic = str(Path(sys.executable).with_name("alembic"))
    done = subprocess.run([alembic, "upgrade", "head"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    engine = create_engine(url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()
