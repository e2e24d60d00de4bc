"""Another database client that holds a lock while a test runs: a PostgreSQL table lock or SQLite's write lock."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import make_url

# Fail-safe only: the holder lets go by itself after this, so code that waits for the lock
# instead of giving up gets through late, and its test fails instead of hanging.
HOLD_AT_MOST_SECONDS = 15.0

Take = Callable[[], Callable[[], None]]  # takes the lock; returns what releases it


class LockHolder(threading.Thread):
    """Takes a lock in its own connection, holds it until told (or the fail-safe), releases it."""

    def __init__(self, take: Take) -> None:
        super().__init__(daemon=True)
        self._take = take
        self._held = threading.Event()
        self._release = threading.Event()
        self.released_by_fail_safe = False
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            release = self._take()
        except BaseException as exc:  # raised again by hold()
            self.error = exc
            self._held.set()
            return
        self._held.set()
        self.released_by_fail_safe = not self._release.wait(HOLD_AT_MOST_SECONDS)
        release()

    def let_go(self) -> None:
        """Release the lock now (hold() does it on exit anyway)."""
        self._release.set()

    @contextmanager
    def hold(self) -> Iterator[LockHolder]:
        """Take the lock; release it on exit."""
        self.start()
        self._held.wait()
        if self.error is not None:
            raise self.error
        try:
            yield self
        finally:
            self.let_go()
            self.join()


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def postgres_lock(url: str, statement: str) -> Take:
    """Run `statement` (e.g. LOCK TABLE users IN ACCESS EXCLUSIVE MODE) in a transaction kept open."""

    def take() -> Callable[[], None]:
        connection = psycopg.connect(_libpq(url))
        connection.execute(statement)  # psycopg opened a transaction: the lock lasts until rollback

        def release() -> None:
            connection.rollback()
            connection.close()

        return release

    return take


def sqlite_write_lock(url: str) -> Take:
    """Take the SQLite file's write lock (BEGIN IMMEDIATE), as a writer in another process would."""
    path = make_url(url).database
    assert path

    def take() -> Callable[[], None]:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.execute("BEGIN IMMEDIATE")

        def release() -> None:
            connection.rollback()
            connection.close()

        return release

    return take


def write_lock(url: str) -> Take:
    """The lock that keeps every writer out: ACCESS EXCLUSIVE on `users` (PostgreSQL), the file's (SQLite)."""
    if make_url(url).get_backend_name() == "sqlite":
        return sqlite_write_lock(url)
    return postgres_lock(url, "LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
