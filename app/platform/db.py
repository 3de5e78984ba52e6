"""Engine, sessions and the declarative base (SQLAlchemy 2, typed)."""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional, Union

from sqlalchemy import MetaData, create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, sessionmaker
from sqlalchemy.orm import Session as OrmSession

from app.platform.config import normalize_database_url

log = logging.getLogger(__name__)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def embedded_database_url(data_dir: str | Path = ".data") -> str:
    """Start (or reuse) the embedded PostgreSQL under `<data_dir>/pg` and return its URL.

    The server is left running when this process exits (cleanup_mode=None) so that the web
    process, CLI commands and a restart all share it.
    """
    from pgserver.postgres_server import get_server  # heavy import: only in local mode

    root = Path(data_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    server = get_server(root / "pg", cleanup_mode=None)
    return normalize_database_url(server.get_uri("postgres"))


# A hung statement or a lock held by a dead session must not stall a worker forever.
STATEMENT_LIMITS = "-c statement_timeout=30000 -c lock_timeout=10000"


class Database:
    """One engine and a session factory; sessions are short and scoped per job/request.

    The URL may be a callable (the embedded PostgreSQL starts on first use), so commands that
    never touch the database (`kb search`, `followup resolve`) never start it.
    """

    def __init__(self, url: Union[str, Callable[[], str]], pool_size: int = 10) -> None:
        self._url = url
        self._pool_size = pool_size
        self._engine: Optional[Engine] = None
        self._session_factory: Optional[sessionmaker[OrmSession]] = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        if callable(self._url):
            self._url = self._url()
        return normalize_database_url(self._url)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    # No pre-ping (a SELECT 1 per checkout on the webhook's hot path); stale
                    # connections are recycled and a dead one fails one unit of work, retried.
                    self._engine = create_engine(
                        self.url, pool_size=self._pool_size, max_overflow=4,
                        pool_recycle=300, pool_timeout=30,
                        connect_args={"connect_timeout": 10, "options": STATEMENT_LIMITS})
        return self._engine

    @property
    def Session(self) -> sessionmaker[OrmSession]:  # noqa: N802 - reads like the SQLAlchemy factory
        if self._session_factory is None:
            self._session_factory = sessionmaker(self.engine, expire_on_commit=False)
        return self._session_factory

    @contextmanager
    def session(self) -> Iterator[OrmSession]:
        """A unit of work: commits on success, rolls back on error."""
        s = self.Session()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except Exception as exc:  # noqa: BLE001 - health check reports any DB failure
            log.warning("database ping failed: %s", exc)
            return False

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
