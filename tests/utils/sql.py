"""Helpers for tests on the SQL backends: the PostgreSQL test database and emptying it."""

from __future__ import annotations

import os

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
