"""Engines for DATABASE_URL, and the one place where database errors become domain errors."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    InternalError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.sql.schema import ColumnCollectionConstraint

from ...errors import DatabaseUnavailable, StorageUnavailable
from .schema import metadata

__all__ = [
    "DEFAULT_TIMEOUTS",
    "DatabaseTimeouts",
    "IntegrityViolation",
    "Violation",
    "database_location",
    "integrity_violation",
    "is_postgresql",
    "open_engine",
    "refused_write",
    "transaction",
]

# Long enough for a busy server, short enough that a vanished host answers 503 promptly.
_CONNECT_TIMEOUT_SECONDS = 5
_READ_ONLY = "assistantia_read_only"


@dataclass(frozen=True)
class DatabaseTimeouts:
    """How long one request may wait on the database before it gives up (and answers 503).

    `lock_seconds` bounds every wait for something others hold: a PostgreSQL lock, SQLite's
    write lock (its busy timeout), a connection from the pool. `statement_seconds` bounds a
    PostgreSQL statement's whole run, lock waits included.
    """

    statement_seconds: float = 10.0
    lock_seconds: float = 10.0


DEFAULT_TIMEOUTS = DatabaseTimeouts()


def database_location(url: str | URL) -> str:
    """Where the database lives, for messages: `host:port/name` or the SQLite file; never a password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite file {parsed.database}"
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


def is_postgresql(engine: Engine) -> bool:
    """Whether this engine talks to PostgreSQL (else SQLite)."""
    return engine.dialect.name == "postgresql"


def open_engine(url: str, timeouts: DatabaseTimeouts = DEFAULT_TIMEOUTS) -> Engine:
    """A pooled engine; connections are checked before use so a restarted database is picked up."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(
            parsed,
            pool_pre_ping=True,
            pool_timeout=timeouts.lock_seconds,
            connect_args={
                "connect_timeout": _CONNECT_TIMEOUT_SECONDS,
                "options": _postgres_options(parsed, timeouts),
            },
        )
    if parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # Writers queue on the file's write lock; past the lock timeout a request gives up with 503.
    engine = create_engine(
        parsed, pool_timeout=timeouts.lock_seconds, connect_args={"timeout": timeouts.lock_seconds}
    )
    event.listen(engine, "connect", _prepare_sqlite)
    event.listen(engine, "begin", _begin_immediate)
    return engine


def _postgres_options(parsed: URL, timeouts: DatabaseTimeouts) -> str:
    # Session defaults sent at connection time (libpq `options`): no extra round trip, and
    # they hold for every transaction of the pooled connection. Options given in the URL stay.
    ours = " ".join(
        f"-c {name}={max(1, round(seconds * 1000))}"
        for name, seconds in (
            ("statement_timeout", timeouts.statement_seconds),
            ("lock_timeout", timeouts.lock_seconds),
        )
    )
    given = parsed.query.get("options")
    return f"{given} {ours}" if isinstance(given, str) and given.strip() else ours


def _prepare_sqlite(dbapi_connection: Any, _: object) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin (see _begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in ("foreign_keys = ON", "journal_mode = WAL", "synchronous = FULL"):
        _pragma(cursor, pragma)
    cursor.close()


def _pragma(cursor: Any, pragma: str) -> None:
    # Switching a new file to WAL answers "database is locked" at once, without the busy
    # timeout, while another connection opening it at the same moment (servers starting together)
    # switches it: that is over in milliseconds, so try again for as long as the busy timeout.
    waited_ms, busy_timeout_ms = 0, int(cursor.execute("PRAGMA busy_timeout").fetchone()[0])
    while True:
        try:
            cursor.execute(f"PRAGMA {pragma}")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or waited_ms >= busy_timeout_ms:
                raise
        time.sleep(0.01)
        waited_ms += 10


def _set_busy_timeout(connection: Connection, milliseconds: int) -> int:
    """Set SQLite's busy timeout on this connection; returns the one it had."""
    # On the driver's connection, so SQLAlchemy does not begin a transaction first: BEGIN
    # IMMEDIATE must wait with the new timeout.
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        previous = int(cursor.execute("PRAGMA busy_timeout").fetchone()[0])
        cursor.execute(f"PRAGMA busy_timeout = {int(milliseconds)}")
    finally:
        cursor.close()
    return previous


def _begin_immediate(connection: Connection) -> None:
    # A writer takes the write lock at the start: a read-then-write transaction never
    # deadlocks against another process and waits (busy timeout) instead of failing.
    # Readers never wait: in WAL mode they read the last committed state.
    reading = connection.get_execution_options().get(_READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


# A migration waits for another server's as long as it takes (PostgreSQL: lock_timeout = 0).
_SQLITE_PATIENT_WAIT_MS = 3_600_000


@contextmanager
def transaction(
    engine: Engine, *, write: bool = True, snapshot: bool = False, patient: bool = False
) -> Iterator[Connection]:
    """One transaction, committed on success; a database that cannot serve raises StorageUnavailable.

    Unreachable, locked past the timeouts or read-only: DatabaseUnavailable. Refusing the
    statement itself (a missing table, a file that is not a database): StorageUnavailable.
    IntegrityError and DataError pass through: only the caller knows what its write means
    (see `integrity_violation`).
    `write=False` declares that it only reads, so on SQLite it does not queue for the write lock.
    `snapshot=True` makes every statement see the same state (SQLite's transactions always do).
    `patient=True` (a migration) waits for SQLite's write lock for as long as it takes.
    """
    try:
        with engine.connect() as connection:
            usual_wait = None
            if patient and not is_postgresql(engine):
                usual_wait = _set_busy_timeout(connection, _SQLITE_PATIENT_WAIT_MS)
            if not write:
                connection.execution_options(**{_READ_ONLY: True})
            if snapshot and is_postgresql(engine):
                connection.execution_options(isolation_level="REPEATABLE READ")
            try:
                with connection.begin():
                    yield connection
            finally:
                if usual_wait is not None:  # the pooled connection serves requests next
                    _set_busy_timeout(connection, usual_wait)
    # InternalError: e.g. PostgreSQL in read-only mode after a fail-over; it may come back.
    except (OperationalError, InterfaceError, InternalError, PoolTimeout) as exc:
        where = database_location(engine.url)
        raise DatabaseUnavailable(f"the database at {where} is unavailable: {_reason(exc)}") from exc
    except (IntegrityError, DataError):
        raise
    except DBAPIError as exc:
        where = database_location(engine.url)
        raise StorageUnavailable(f"the database at {where} refused the request: {_reason(exc)}") from exc


class Violation(Enum):
    """Why the database refused a write with an IntegrityError."""

    MISSING_REFERENCE = "a row it refers to is gone"  # foreign key: e.g. the account was deleted meanwhile
    DUPLICATE = "a row with the same key exists"  # unique or primary key
    OTHER = "another constraint"  # not null, check: a bug, never the caller's fault


@dataclass(frozen=True)
class IntegrityViolation:
    """What an IntegrityError means, the same way on PostgreSQL and SQLite."""

    kind: Violation
    # For a duplicate, the key's columns as "table.column" when the database names them.
    columns: frozenset[str]


_SQLITE_KINDS = {
    "SQLITE_CONSTRAINT_FOREIGNKEY": Violation.MISSING_REFERENCE,
    "SQLITE_CONSTRAINT_UNIQUE": Violation.DUPLICATE,
    "SQLITE_CONSTRAINT_PRIMARYKEY": Violation.DUPLICATE,
}
_POSTGRES_KINDS = {"23503": Violation.MISSING_REFERENCE, "23505": Violation.DUPLICATE}
_SQLITE_UNIQUE_COLUMNS = re.compile(r"UNIQUE constraint failed: (.+)$")


def integrity_violation(exc: IntegrityError) -> IntegrityViolation:
    """Classify a refused write, e.g. in a backend method::

    except IntegrityError as exc:
        if integrity_violation(exc).kind is Violation.MISSING_REFERENCE:
            return None  # the account or thread went meanwhile: not found
        raise refused_write(self.engine, exc) from exc
    """
    cause = exc.orig
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate is not None:  # psycopg
        kind = _POSTGRES_KINDS.get(sqlstate, Violation.OTHER)
        constraint = getattr(getattr(cause, "diag", None), "constraint_name", None)
        columns = (
            _constraint_columns(constraint) if kind is Violation.DUPLICATE and constraint else frozenset()
        )
        return IntegrityViolation(kind, columns)
    kind = _SQLITE_KINDS.get(getattr(cause, "sqlite_errorname", ""), Violation.OTHER)
    found = _SQLITE_UNIQUE_COLUMNS.search(str(cause)) if kind is Violation.DUPLICATE else None
    columns = frozenset(part.strip() for part in found.group(1).split(",")) if found else frozenset()
    return IntegrityViolation(kind, columns)


def _constraint_columns(name: str) -> frozenset[str]:
    # PostgreSQL names the constraint; our schema says which columns it covers
    # (a primary key keeps PostgreSQL's default name, `<table>_pkey`).
    for table in metadata.tables.values():
        for constraint in table.constraints:
            if not isinstance(constraint, ColumnCollectionConstraint):
                continue
            if constraint.name == name or (constraint is table.primary_key and name == f"{table.name}_pkey"):
                return frozenset(f"{table.name}.{column.name}" for column in constraint.columns)
    return frozenset()


def refused_write(engine: Engine, exc: DBAPIError) -> StorageUnavailable:
    """The error for a write refused for a reason the caller did not foresee; its cause reaches the log."""
    return StorageUnavailable(
        f"the database at {database_location(engine.url)} refused a write: {_reason(exc)}"
    )


def _reason(exc: Exception) -> str:
    # The first line only: PostgreSQL's DETAIL line may quote the row's values (an email).
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__
