"""Engines for DATABASE_URL, and the one place where database errors become domain errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ...errors import DatabaseUnavailable

__all__ = ["database_location", "is_postgresql", "open_engine", "transaction"]

# Long enough for a busy server, short enough that a vanished host answers 503 promptly.
_CONNECT_TIMEOUT_SECONDS = 5
# SQLite's writers queue on the file lock; past this a request gives up with 503.
_SQLITE_BUSY_SECONDS = 30
_READ_ONLY = "assistantia_read_only"


def database_location(url: str | URL) -> str:
    """Where the database lives, for messages: `host:port/name` or the SQLite file; never a password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite file {parsed.database}"
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


def is_postgresql(engine: Engine) -> bool:
    """Whether this engine talks to PostgreSQL (else SQLite)."""
    return engine.dialect.name == "postgresql"


def open_engine(url: str) -> Engine:
    """A pooled engine; connections are checked before use so a restarted database is picked up."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(
            parsed, pool_pre_ping=True, connect_args={"connect_timeout": _CONNECT_TIMEOUT_SECONDS}
        )
    if parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"timeout": _SQLITE_BUSY_SECONDS})
    event.listen(engine, "connect", _prepare_sqlite)
    event.listen(engine, "begin", _begin_immediate)
    return engine


def _prepare_sqlite(dbapi_connection: Any, _: object) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin (see _begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in ("foreign_keys = ON", "journal_mode = WAL", "synchronous = FULL"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _begin_immediate(connection: Connection) -> None:
    # A writer takes the write lock at the start: a read-then-write transaction never
    # deadlocks against another process and waits (busy timeout) instead of failing.
    # Readers never wait: in WAL mode they read the last committed state.
    reading = connection.get_execution_options().get(_READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


@contextmanager
def transaction(engine: Engine, *, write: bool = True, snapshot: bool = False) -> Iterator[Connection]:
    """One transaction, committed on success; an unreachable database raises DatabaseUnavailable.

    `write=False` declares that it only reads, so on SQLite it does not queue for the write lock.
    `snapshot=True` makes every statement see the same state (SQLite's transactions always do).
    """
    try:
        with engine.connect() as connection:
            if not write:
                connection.execution_options(**{_READ_ONLY: True})
            if snapshot and is_postgresql(engine):
                connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                yield connection
    except (OperationalError, InterfaceError, PoolTimeout) as exc:
        raise DatabaseUnavailable(
            f"the database at {database_location(engine.url)} is unavailable: {_reason(exc)}"
        ) from exc


def _reason(exc: Exception) -> str:
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__
