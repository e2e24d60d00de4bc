"""What only the SQL backend does: failures inside a commit, cross-process time order, migrations, schema."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, inspect

from BackEnd.errors import RestoreError
from BackEnd.records import ConversationRecord, UserRecord
from BackEnd.storage import Dump
from BackEnd.storage.sql import SCHEMA_REVISION, SQLDatabase, head_revision, upgrade
from BackEnd.storage.sql.engine import open_engine
from BackEnd.storage.sql.schema import metadata
from tests.utils.races import assert_stamps_follow_commit_order, race_renames_and_turns
from tests.utils.records import add_users, chat, make_conversation, make_turn, make_user

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgresql"])


class Injected(Exception):
    """The failure a test forces inside a transaction."""


@pytest.fixture
def sql(db: SQLDatabase) -> SQLDatabase:
    assert isinstance(db, SQLDatabase)
    return db


@pytest.fixture
def alice(sql: SQLDatabase) -> UserRecord:
    user = make_user("alice@example.com")
    add_users(sql, user)
    return user


@pytest.fixture
def fail_on(sql: SQLDatabase) -> Iterator[dict[str, str]]:
    """Set `fail_on["sql"]` to a statement prefix (or "COMMIT") to make that step raise."""
    target: dict[str, str] = {}

    def before_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if target and statement.startswith(target["sql"]):
            raise Injected(statement)

    def before_commit(conn: Any) -> None:
        if target.get("sql") == "COMMIT":
            raise Injected("commit")

    event.listen(sql.engine, "before_cursor_execute", before_execute)
    event.listen(sql.engine, "commit", before_commit)
    yield target
    event.remove(sql.engine, "before_cursor_execute", before_execute)
    event.remove(sql.engine, "commit", before_commit)


@pytest.mark.parametrize("step", ["INSERT INTO messages", "COMMIT"])
def test_a_turn_failing_between_its_writes_or_at_commit_stores_nothing(
    sql: SQLDatabase, alice: UserRecord, fail_on: dict[str, str], step: str
) -> None:
    thread = chat(sql, alice["id"], "kept")
    before = sql.export_dump()
    fail_on["sql"] = step

    with pytest.raises(Injected), sql.unit_of_work(alice["id"]) as uow:
        uow.threads.append(alice["id"], thread["id"], make_turn(alice["id"], thread["id"], "half"))
    fresh = make_conversation(alice["id"], "never")
    with pytest.raises(Injected), sql.unit_of_work(alice["id"]) as uow:
        uow.threads.add(fresh)
        uow.threads.append(alice["id"], fresh["id"], make_turn(alice["id"], fresh["id"], "x"))

    fail_on.clear()
    assert sql.export_dump() == before
    assert chat(sql, alice["id"], "works again", thread["id"])["updated_at"] > thread["updated_at"]


def test_concurrent_turns_of_one_thread_through_two_engines_serialise(
    sql: SQLDatabase, alice: UserRecord
) -> None:
    # Two engines are two connection pools, as two server processes would have.
    other = SQLDatabase.open(sql.engine.url.render_as_string(hide_password=False))
    thread = chat(sql, alice["id"], "start")
    acknowledged: list[ConversationRecord | None] = []

    def talk(database: SQLDatabase, name: str) -> None:
        for n in range(15):
            turn = make_turn(alice["id"], thread["id"], f"{name}-{n}")
            with database.unit_of_work(alice["id"]) as uow:
                acknowledged.append(uow.threads.append(alice["id"], thread["id"], turn))

    workers = [threading.Thread(target=talk, args=(db, f"w{i}")) for i, db in enumerate([sql, other] * 4)]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        other.close()

    with sql.unit_of_work(alice["id"], write=False) as uow:
        page = uow.threads.messages(alice["id"], thread["id"], limit=1000, offset=0)
        stored = uow.threads.get(alice["id"], thread["id"])
    assert page is not None and page.total == 2 + 2 * 15 * len(workers)
    assert None not in acknowledged
    for question, answer in zip(page.items[0::2], page.items[1::2], strict=True):
        assert answer["content"] == f"echo: {question['content']}"
    times = [m["created_at"] for m in page.items]
    assert times == sorted(set(times))
    assert stored is not None and stored["updated_at"] == times[-1]
    assert max(record["updated_at"] for record in acknowledged if record) == times[-1]


def test_renames_racing_turns_through_two_engines_never_leave_updated_at_behind(
    sql: SQLDatabase, alice: UserRecord
) -> None:
    other = SQLDatabase.open(sql.engine.url.render_as_string(hide_password=False))
    thread = chat(sql, alice["id"], "start")
    try:
        outcome = race_renames_and_turns([sql, other], alice["id"], thread["id"], workers=4, rounds=12)
    finally:
        other.close()

    assert_stamps_follow_commit_order(sql, alice["id"], thread["id"], outcome)


def test_upgrade_is_idempotent_and_the_schema_matches_the_migrations(sql: SQLDatabase) -> None:
    assert upgrade(sql.engine) == SCHEMA_REVISION == head_revision()
    with sql.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []
    indexes = {
        index["name"]
        for table in ("conversations", "messages")
        for index in inspect(sql.engine).get_indexes(table)
    }
    assert {"ix_conversations_user_updated", "ix_messages_conversation_created"} <= indexes


def test_servers_starting_together_migrate_a_new_database_once(new_database_url: str) -> None:
    results: list[object] = []

    def start() -> None:
        engine = open_engine(new_database_url)
        try:
            results.append(upgrade(engine))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # One of them found the database empty (None) and migrated it; the others found it done.
    assert sorted(map(str, results)) == sorted([str(None)] + [SCHEMA_REVISION] * 3)


def test_restoring_text_the_database_cannot_hold_is_a_restore_error_and_stores_nothing(
    sql: SQLDatabase, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("only PostgreSQL refuses NUL characters")
    alice = make_user("alice@example.com")
    thread = make_conversation(alice["id"], "nul \x00 inside")
    dump = Dump(users=[alice], conversations=[thread], messages=[])

    with pytest.raises(RestoreError, match="refused a value"):
        sql.import_dump(dump)
    assert sql.export_dump() == Dump(users=[], conversations=[], messages=[])
