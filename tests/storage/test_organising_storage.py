"""Issue 11 in storage, on every backend: the stats seam, dated copies, dump version 2, old data."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from BackEnd.config import Settings
from BackEnd.records import MessageRecord, new_id
from BackEnd.storage import AccountTotals, Database, ThreadQuery, TinyDBDatabase, open_database
from BackEnd.storage.dump import DUMP_VERSION, read_dump, write_dump
from tests.utils.api import make_settings
from tests.utils.records import add_users, make_conversation, make_turn, make_user, populate
from tests.utils.sql import upgrade_to

SINCE = "2000-01-01"


def _dated(user_id: str, conversation_id: str, *times: str) -> list[MessageRecord]:
    return [
        {
            "id": new_id("msg"),
            "conversation_id": conversation_id,
            "user_id": user_id,
            "role": "user" if index % 2 == 0 else "assistant",
            "content": f"message at {moment}",
            "created_at": moment,
        }
        for index, moment in enumerate(times)
    ]


def test_stats_are_kept_by_turns_and_deletions_and_read_in_a_batch(db: Database) -> None:
    users = populate(db)
    alice, bob = users["alice"]["id"], users["bob"]["id"]
    with db.unit_of_work(write=False) as uow:
        assert uow.stats.totals([alice, bob, "usr_unknown"]) == {
            alice: AccountTotals(conversations=2, messages=6),
            bob: AccountTotals(conversations=1, messages=2),
            "usr_unknown": AccountTotals(),
        }
        figures = uow.stats.of(alice, since_day=SINCE)
    assert (figures.conversations, figures.messages, sum(figures.by_day.values())) == (2, 6, 6)

    with db.unit_of_work(bob) as uow:
        assert uow.accounts.delete(bob)
    with db.unit_of_work(alice) as uow:
        thread = uow.threads.page(alice, limit=1, offset=0).items[0]
        assert uow.threads.delete(alice, thread["id"])
    with db.unit_of_work(write=False) as uow:
        totals = uow.stats.totals([alice, bob])
        assert totals == {alice: AccountTotals(1, 4), bob: AccountTotals()}
        assert uow.stats.of(bob, since_day=SINCE).messages == 0


def test_a_unit_that_fails_leaves_the_stats_and_the_thread_figures_as_they_were(db: Database) -> None:
    users = populate(db)
    alice = users["alice"]["id"]
    with db.unit_of_work(alice, write=False) as uow:
        before = uow.stats.of(alice, since_day=SINCE)
        thread = uow.threads.page(alice, limit=1, offset=0).items[0]

    with pytest.raises(RuntimeError), db.unit_of_work(alice) as uow:
        uow.threads.append(alice, thread["id"], _dated(alice, thread["id"], "2030-01-01T00:00:00.000000Z"))
        raise RuntimeError("the turn failed after storing")

    with db.unit_of_work(alice, write=False) as uow:
        assert uow.stats.of(alice, since_day=SINCE) == before
        assert uow.threads.get(alice, thread["id"]) == thread


def test_dated_copies_keep_their_times_and_by_day_starts_at_since(db: Database) -> None:
    alice = make_user("alice@example.com")
    add_users(db, alice)
    thread = make_conversation(alice["id"])
    times = ("2026-10-01T08:00:00.000000Z", "2026-11-20T08:00:00.000000Z", "2026-11-20T09:00:00.000000Z")
    with db.unit_of_work(alice["id"]) as uow:
        uow.threads.add(thread)
        stored = uow.threads.insert_dated(
            alice["id"], thread["id"], _dated(alice["id"], thread["id"], *times)
        )
    assert stored is not None and stored["updated_at"] == thread["updated_at"]  # copies are older
    assert (stored["message_count"], stored["preview"]) == (3, f"message at {times[2]}")
    with db.unit_of_work(alice["id"], write=False) as uow:
        history = uow.threads.messages(alice["id"], thread["id"], limit=10, offset=0)
        figures = uow.stats.of(alice["id"], since_day="2026-11-01")
    assert history is not None and [m["created_at"] for m in history.items] == list(times)
    assert figures.by_day == {"2026-11-20": 2}
    assert (figures.messages, figures.first_message_at, figures.last_message_at) == (3, times[0], times[2])


def test_dump_version_2_carries_the_organising_fields_and_restore_recounts(
    db: Database, tmp_path: Path
) -> None:
    users = populate(db)
    alice = users["alice"]["id"]
    with db.unit_of_work(alice) as uow:
        thread = uow.threads.page(alice, limit=1, offset=0).items[0]
        uow.threads.organise(
            alice, thread["id"], {"is_favorite": True, "folder": "Cours", "tags": ["a", "b"]}
        )
    path = tmp_path / "dump.json"
    write_dump(path, db.export_dump())
    assert json.loads(path.read_text())["version"] == DUMP_VERSION == 3

    target = TinyDBDatabase.open(tmp_path / "restored")
    try:
        target.import_dump(read_dump(path))
        with target.unit_of_work(alice, write=False) as uow:
            restored = uow.threads.page(alice, limit=10, offset=0, query=ThreadQuery(folder="Cours"))
            figures = uow.stats.of(alice, since_day=SINCE)
        assert restored.items == [{**thread, "is_favorite": True, "folder": "Cours", "tags": ["a", "b"]}]
        assert (figures.messages, figures.favorites, figures.tags) == (6, 1, 2)
        assert target.export_dump() == db.export_dump()
    finally:
        target.close()


def test_a_version_1_dump_restores_with_the_defaults_and_its_figures(db: Database, tmp_path: Path) -> None:
    source = TinyDBDatabase.open(tmp_path / "source")
    try:
        users = populate(source)
        dump = source.export_dump()
    finally:
        source.close()
    old_fields = ("id", "user_id", "title", "created_at", "updated_at")
    document = {
        "format": "assistantia-dump",
        "version": 1,
        "users": dump.users,
        "conversations": [{field: c[field] for field in old_fields} for c in dump.conversations],  # type: ignore[literal-required]
        "messages": dump.messages,
    }
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(document), encoding="utf-8")

    db.import_dump(read_dump(path))

    alice = users["alice"]["id"]
    with db.unit_of_work(alice, write=False) as uow:
        items = uow.threads.page(alice, limit=10, offset=0).items
        figures = uow.stats.of(alice, since_day=SINCE)
    assert [(c["is_favorite"], c["archived"], c["folder"], c["tags"]) for c in items] == [
        (False, False, None, [])
    ] * 2
    assert sorted(c["message_count"] for c in items) == [2, 4]
    assert {c["preview"] for c in items} == {"echo: second thread", "echo: ça va ? ünïcödé"}
    assert (figures.conversations, figures.messages) == (2, 6)


def test_tinydb_files_without_the_new_fields_read_back_with_defaults_and_figures_after_a_restart(
    data_dir: Path,
) -> None:
    database = TinyDBDatabase.open(data_dir)
    try:
        users = populate(database)
    finally:
        database.close()
    alice = users["alice"]["id"]
    path = data_dir / "conversations" / f"{alice}.json"
    table = json.loads(path.read_text(encoding="utf-8"))
    for doc in table["conversations"].values():
        for field in ("is_favorite", "archived", "folder", "tags"):
            del doc[field]
    path.write_text(json.dumps(table), encoding="utf-8")

    database = TinyDBDatabase.open(data_dir)
    try:
        with database.unit_of_work(alice, write=False) as uow:
            items = uow.threads.page(alice, limit=10, offset=0).items
            figures = uow.stats.of(alice, since_day=SINCE)
    finally:
        database.close()
    assert [(c["folder"], c["tags"], c["message_count"]) for c in items] == [(None, [], 2), (None, [], 4)]
    assert figures.messages == 6


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0004_keeps_old_rows_with_defaults_and_counts_what_is_stored(new_database_url: str) -> None:
    engine = create_engine(Settings(_env_file=None, database_url=new_database_url).database_url)  # type: ignore[arg-type]
    alice = make_user("alice@example.com")
    thread = make_conversation(alice["id"], "Éléments")
    messages = _dated(alice["id"], thread["id"], "2026-11-01T10:00:00.000000Z", "2026-11-02T10:00:00.000000Z")
    try:
        with engine.begin() as connection:
            upgrade_to(connection, "0002")
            connection.execute(
                text(
                    "INSERT INTO users (id, email, name, role, password_hash, created_at) "
                    "VALUES (:id, :email, :name, :role, :password_hash, :created_at)"
                ),
                alice,
            )
            connection.execute(
                text(
                    "INSERT INTO conversations (id, user_id, title, created_at, updated_at) "
                    "VALUES (:id, :user_id, :title, :created_at, :updated_at)"
                ),
                thread,
            )
            connection.execute(
                text(
                    "INSERT INTO messages (id, conversation_id, user_id, role, content, created_at) "
                    "VALUES (:id, :conversation_id, :user_id, :role, :content, :created_at)"
                ),
                messages,
            )
    finally:
        engine.dispose()

    database = open_database(make_settings(Path("unused"), database_url=new_database_url))
    try:
        with database.unit_of_work(alice["id"], write=False) as uow:
            found = uow.threads.page(alice["id"], limit=5, offset=0, query=ThreadQuery(title="elem")).items
            figures = uow.stats.of(alice["id"], since_day=SINCE)
    finally:
        database.close()
    assert found == [{**thread, "message_count": 2, "preview": messages[1]["content"]}]
    assert figures.by_day == {"2026-11-01": 1, "2026-11-02": 1}
    assert (figures.first_message_at, figures.last_message_at) == (
        messages[0]["created_at"],
        messages[1]["created_at"],
    )


def test_concurrent_turns_of_one_account_all_count(db: Database) -> None:
    alice = make_user("alice@example.com")
    add_users(db, alice)
    threads = [make_conversation(alice["id"], f"thread {index}") for index in range(6)]
    with db.unit_of_work(alice["id"]) as uow:
        for thread in threads:
            uow.threads.add(thread)

    def turns(thread_id: str) -> None:
        for turn in range(5):
            with db.unit_of_work(alice["id"]) as uow:
                uow.threads.append(alice["id"], thread_id, make_turn(alice["id"], thread_id, f"turn {turn}"))

    with ThreadPoolExecutor(max_workers=len(threads)) as pool:
        list(pool.map(turns, [thread["id"] for thread in threads]))

    with db.unit_of_work(alice["id"], write=False) as uow:
        figures = uow.stats.of(alice["id"], since_day=SINCE)
        counts = [c["message_count"] for c in uow.threads.page(alice["id"], limit=10, offset=0).items]
    assert (figures.messages, sum(figures.by_day.values()), counts) == (60, 60, [10] * 6)
