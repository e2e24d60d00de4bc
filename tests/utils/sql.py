"""Helpers for tests on the SQL backends: the PostgreSQL test database and emptying it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from BackEnd.config import Settings

BACKENDS = ("tinydb", "sqlite", "postgresql")
NO_POSTGRES = "TEST_DATABASE_URL is not set: PostgreSQL tests skipped (.ci/run sets it to the local server)"


def postgres_test_url() -> str | None:
    """TEST_DATABASE_URL in the form the app uses, or None when PostgreSQL tests must be skipped."""
    raw = os.environ.get("TEST_DATABASE_URL", "").strip()
    return Settings(_env_file=None, database_url=raw).database_url if raw else None


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
