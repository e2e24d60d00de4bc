"""The SQL engine: bounded waits, database errors as domain errors, IntegrityError classified alike on both engines."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from sqlalchemy import Engine, insert, text
from sqlalchemy.exc import IntegrityError

from BackEnd.errors import DatabaseUnavailable, StorageUnavailable
from BackEnd.storage.sql import SCHEMA_REVISION, upgrade
from BackEnd.storage.sql.engine import (
    DatabaseTimeouts,
    IntegrityViolation,
    Violation,
    integrity_violation,
    open_engine,
    refused_write,
    transaction,
)
from BackEnd.storage.sql.migrate import _ADVISORY_LOCK_KEY
from BackEnd.storage.sql.schema import conversations, messages, users
from tests.utils.locks import HOLD_AT_MOST_SECONDS, LockHolder, postgres_lock, write_lock
from tests.utils.records import make_conversation, make_turn, make_user

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgresql"])

SHORT = DatabaseTimeouts(statement_seconds=1, lock_seconds=1)


@pytest.fixture
def open_short(database_url: str) -> Iterator[Callable[[DatabaseTimeouts], Engine]]:
    """Open engines on the test database with the given timeouts; all disposed at the end."""
    engines: list[Engine] = []

    def make(timeouts: DatabaseTimeouts) -> Engine:
        engines.append(open_engine(database_url, timeouts))
        return engines[-1]

    yield make
    for engine in engines:
        engine.dispose()


def _within_fail_safe(work: Callable[[], Any]) -> Any:
    """Run `work` in a thread; fail if it has not ended before the lock holder's fail-safe."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # noqa: BLE001 - handed to the test below
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(HOLD_AT_MOST_SECONDS)
    assert not worker.is_alive(), "it waited instead of giving up"
    return outcome[0]


def _count_users(engine: Engine, *, write: bool) -> int:
    with transaction(engine, write=write) as db:
        if write:
            db.execute(text("UPDATE users SET role = role"))
        return int(db.execute(text("SELECT count(*) FROM users")).scalar_one())


def test_a_statement_running_past_the_statement_timeout_is_database_unavailable(
    backend: str, open_short: Callable[[DatabaseTimeouts], Engine]
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has no statement timeout; its statements here are short")
    engine = open_short(DatabaseTimeouts(statement_seconds=1, lock_seconds=30))

    def sleep() -> object:
        with transaction(engine, write=False) as db:
            return db.execute(text("SELECT pg_sleep(:seconds)"), {"seconds": HOLD_AT_MOST_SECONDS + 5})

    failure = _within_fail_safe(sleep)

    assert isinstance(failure, DatabaseUnavailable), failure
    assert "statement timeout" in str(failure)


def test_a_lock_held_elsewhere_is_given_up_at_the_lock_timeout_and_reads_go_on_on_sqlite(
    backend: str, database_url: str, open_short: Callable[[DatabaseTimeouts], Engine]
) -> None:
    engine = open_short(DatabaseTimeouts(statement_seconds=30, lock_seconds=1))

    with LockHolder(write_lock(database_url)).hold():
        failure = _within_fail_safe(lambda: _count_users(engine, write=True))
        read = _within_fail_safe(lambda: _count_users(engine, write=False)) if backend == "sqlite" else 0

    assert isinstance(failure, DatabaseUnavailable), failure
    assert ("lock timeout" if backend == "postgresql" else "database is locked") in str(failure)
    assert read == 0  # SQLite in WAL mode: readers never wait for the writer
    assert _count_users(engine, write=True) == 0  # released: it works again


def test_waiting_for_a_pooled_connection_is_bounded_by_the_lock_timeout(
    open_short: Callable[[DatabaseTimeouts], Engine],
) -> None:
    engine = open_short(SHORT)
    with ExitStack() as busy:
        while engine.pool.checkedout() < 15:  # SQLAlchemy's pool: 5 kept plus 10 overflow
            busy.enter_context(transaction(engine, write=False))

        failure = _within_fail_safe(lambda: _count_users(engine, write=False))

    assert isinstance(failure, DatabaseUnavailable), failure
    assert _count_users(engine, write=False) == 0


def test_a_migration_waits_for_another_migrating_server_past_the_request_timeouts(
    backend: str, database_url: str, open_short: Callable[[DatabaseTimeouts], Engine]
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite's migrations queue on the write lock, as writes do")
    engine = open_short(SHORT)
    # As another server migrating for 2 s: it holds the advisory lock `upgrade` takes first.
    migrating = LockHolder(postgres_lock(database_url, f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK_KEY})"))

    with migrating.hold():
        threading.Timer(2, migrating.let_go).start()
        result = _within_fail_safe(lambda: upgrade(engine))

    assert result == SCHEMA_REVISION


def test_postgresql_options_given_in_the_url_are_kept_beside_the_timeouts(
    backend: str, database_url: str
) -> None:
    if backend != "postgresql":
        pytest.skip("libpq options exist on PostgreSQL only")
    with_options = open_engine(f"{database_url}?options=-c%20work_mem%3D5MB", SHORT)
    try:
        with transaction(with_options, write=False) as db:
            settings = [
                db.execute(text(f"SHOW {name}")).scalar_one() for name in ("work_mem", "lock_timeout")
            ]
    finally:
        with_options.dispose()

    assert settings == ["5MB", "1s"]


# -- IntegrityError: what a refused write means ----------------------------------------------


@pytest.fixture
def engine(open_short: Callable[[DatabaseTimeouts], Engine]) -> Engine:
    return open_short(SHORT)


def _refused(engine: Engine, table: Any, *rows: dict[str, Any]) -> IntegrityError:
    """Insert `rows` one by one, each in its own transaction; the IntegrityError of the last one."""
    *accepted, refused = rows
    for row in accepted:
        with transaction(engine) as db:
            db.execute(insert(table), [row])
    with pytest.raises(IntegrityError) as caught:
        with transaction(engine) as db:
            db.execute(insert(table), [refused])
    return caught.value


def test_a_row_referring_to_a_vanished_account_or_thread_is_a_missing_reference(engine: Engine) -> None:
    alice = make_user("alice@example.com")
    orphan = make_conversation("usr_gone")
    with transaction(engine) as db:
        db.execute(insert(users), [dict(alice)])
    thread = make_conversation(alice["id"])
    message = make_turn(alice["id"], thread["id"], "hi")[0]

    for exc in (_refused(engine, conversations, dict(orphan)), _refused(engine, messages, dict(message))):
        assert integrity_violation(exc) == IntegrityViolation(Violation.MISSING_REFERENCE, frozenset())


def test_a_colliding_key_is_a_duplicate_naming_its_columns(engine: Engine) -> None:
    alice = make_user("alice@example.com")
    same_id = {**make_user("other@example.com"), "id": alice["id"]}
    same_email = make_user("alice@example.com")
    thread = make_conversation(alice["id"])
    message = make_turn(alice["id"], thread["id"], "hi")[0]
    with transaction(engine) as db:
        db.execute(insert(users), [dict(alice)])
        db.execute(insert(conversations), [dict(thread)])

    cases = {
        "users.id": _refused(engine, users, dict(same_id)),
        "users.email": _refused(engine, users, dict(same_email)),
        "conversations.id": _refused(engine, conversations, {**thread, "title": "again"}),
        "messages.id": _refused(engine, messages, dict(message), dict(message)),
    }

    for column, exc in cases.items():
        violation = integrity_violation(exc)
        assert violation.kind is Violation.DUPLICATE
        # SQLite may name another unique key holding the column: conversations' (id, user_id).
        table = column.split(".")[0]
        assert column in violation.columns and all(c.startswith(f"{table}.") for c in violation.columns)
    assert integrity_violation(cases["users.email"]).columns == {"users.email"}  # what registering needs


def test_any_other_refusal_is_neither_and_becomes_storage_unavailable_with_the_first_line_only(
    engine: Engine,
) -> None:
    no_email = {**make_user("alice@example.com"), "email": None}
    alice = make_user("alice@example.com")
    with transaction(engine) as db:
        db.execute(insert(users), [dict(alice)])

    missing = _refused(engine, users, no_email)
    duplicate = _refused(engine, users, dict(make_user("alice@example.com")))

    assert integrity_violation(missing) == IntegrityViolation(Violation.OTHER, frozenset())
    error = refused_write(engine, duplicate)
    assert isinstance(error, StorageUnavailable) and not isinstance(error, DatabaseUnavailable)
    assert "refused a write" in str(error)
    assert "uq_users_email" in str(error) or "users.email" in str(error)
    assert "alice@example.com" not in str(error)  # PostgreSQL's DETAIL line quotes the value: not logged


def test_a_statement_the_database_refuses_is_storage_unavailable_not_a_crash(engine: Engine) -> None:
    with pytest.raises(StorageUnavailable, match="no_such_table"):
        with transaction(engine, write=False) as db:
            db.execute(text("SELECT * FROM no_such_table"))
