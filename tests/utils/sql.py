"""Helpers for tests on the SQL backends: the PostgreSQL test database and emptying it."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from BackEnd.config import Settings

BACKENDS = ("tinydb", "sqlite", "postgresql")
# The server the suite looks for when TEST_DATABASE_URL is unset: the default user on this machine.
LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
NO_POSTGRES = (
    "no PostgreSQL: TEST_DATABASE_URL is unset and no server answers on 127.0.0.1:5432 as user postgres "
    "(PostgreSQL tests skipped)"
)


def postgres_test_url() -> str | None:
    """TEST_DATABASE_URL in the form the app uses, or None when PostgreSQL tests must be skipped."""
    raw = os.environ.get("TEST_DATABASE_URL", "").strip()
    return Settings(_env_file=None, database_url=raw).database_url if raw else None


@contextmanager
def scratch_database(server: str = LOCAL_POSTGRES) -> Iterator[str | None]:
    """A new, empty database on `server` for this test session, dropped at the end; None if none answers.

    So the README's one test command runs the PostgreSQL cases wherever a local server is
    there, without touching any database of its own.
    """
    admin = create_engine(
        Settings(_env_file=None, database_url=server).database_url,  # type: ignore[arg-type]
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 3},
    )
    name = f"assistantia_test_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        try:
            with admin.connect() as connection:
                connection.execute(text(f"CREATE DATABASE {name}"))
        except OperationalError:  # nothing listens, or it refuses this user
            yield None
            return
        try:
            yield admin.url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    finally:
        admin.dispose()


def sqlite_url(path: os.PathLike[str]) -> str:
    return f"sqlite:///{os.fspath(path)}"


def empty_tables(engine: Engine) -> None:
    """Delete every row (the schema stays): each test starts from an empty database.

    DELETE, not TRUNCATE: on a test's few rows it is far quicker (TRUNCATE makes new files).
    Deleting the accounts deletes the rest by ON DELETE CASCADE.
    """
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM users"))
        connection.execute(text("DELETE FROM audit_events"))
        connection.execute(text("DELETE FROM recent_events"))


def empty_database_url(backend: str, folder: Path, request: pytest.FixtureRequest) -> str | None:
    """DATABASE_URL of an empty, migrated database of `backend` (None for TinyDB).

    SQLite copies the session's migrated template into `folder`; PostgreSQL empties the
    session's test database (the `postgres` fixture skips when TEST_DATABASE_URL is unset).
    """
    if backend == "tinydb":
        return None
    if backend == "sqlite":
        path = folder / "assistantia.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return sqlite_url(path)
    postgres = request.getfixturevalue("postgres")
    empty_tables(postgres.engine)
    return str(postgres.engine.url.render_as_string(hide_password=False))


def upgrade_to(connection: Connection, revision: str) -> None:
    """Build the schema as it was at `revision` (an older one), inside the caller's transaction."""
    from alembic import command
    from alembic.config import Config

    from BackEnd.storage.sql.migrate import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
