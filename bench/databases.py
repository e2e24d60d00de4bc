"""Scratch SQL databases for the bench: one empty database per data set, dropped afterwards."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url

from BackEnd.config import Settings

__all__ = ["describe", "scratch_database"]


def describe(server_url: str | None) -> str:
    """The storage a run measured, for results.md, with any password hidden."""
    if not server_url:
        return "TinyDB files in a fresh `BDD_DIR`"
    url = make_url(_normalised(server_url))
    if url.get_backend_name() == "sqlite":
        return "SQLite, a fresh file per data set"
    where = url.set(database=None).render_as_string(hide_password=True)
    return f"PostgreSQL at `{where}`, a fresh database per data set"


@contextmanager
def scratch_database(server_url: str | None, workdir: Path, size: int) -> Iterator[str | None]:
    """DATABASE_URL of an empty database for one data set; None keeps the TinyDB default.

    `restore` only loads into an empty database, and the bench must never touch the data of
    the database it was pointed at: it creates its own on the same server and drops it after.
    """
    if not server_url:
        yield None
        return
    url = make_url(_normalised(server_url))
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{workdir / f'bench-{size}.db'}"
        return
    name = f"assistantia_bench_{size}_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def _normalised(raw: str) -> str:
    """The URL as the app would use it (`postgres://` and `postgresql://` go to psycopg 3)."""
    return str(Settings(_env_file=None, database_url=raw).database_url)
