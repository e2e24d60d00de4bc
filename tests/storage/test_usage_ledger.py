"""The usage ledger (base.UsageLedger) on every backend, and dumps carrying it and the new fields."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from BackEnd.completion import Completion, Usage
from BackEnd.errors import DataFileCorrupt, RestoreError
from BackEnd.records import UserRecord, message_record
from BackEnd.storage import Database, TinyDBDatabase
from BackEnd.storage.base import UsageTotals
from BackEnd.storage.dump import read_dump, write_dump
from tests.utils.records import add_users, chat, make_conversation, make_user

DAY, NEXT_DAY = "2026-12-01", "2026-12-02"


@pytest.fixture
def alice(db: Database) -> UserRecord:
    user = make_user("alice@example.com")
    add_users(db, user)
    return user


def spend(
    db: Database, user_id: str, day: str, model: str, usage: Usage | None, conversation_id: str = "conv_gone"
) -> None:
    with db.unit_of_work(user_id) as unit:
        unit.usage.record(user_id, conversation_id, day, model, usage)


def test_answers_add_up_per_day_and_model(db: Database, alice: UserRecord) -> None:
    spend(db, alice["id"], DAY, "a/one", Usage(10, 5, 15, 0.5))
    spend(db, alice["id"], DAY, "a/one", Usage(1, 2, 3, None))
    spend(db, alice["id"], DAY, "b/two", None)
    spend(db, alice["id"], NEXT_DAY, "a/one", Usage(100, 0, 100))

    with db.unit_of_work(alice["id"], write=False) as unit:
        lines = unit.usage.lines(alice["id"], DAY, NEXT_DAY)
        only_first = unit.usage.lines(alice["id"], DAY, DAY)

    assert [
        (line["day"], line["model"], line["messages"], line["total_tokens"], line["cost"]) for line in lines
    ] == [
        (DAY, "a/one", 2, 18, 0.5),
        (DAY, "b/two", 1, 0, None),
        (NEXT_DAY, "a/one", 1, 100, None),
    ]
    assert lines[0] == {
        "user_id": alice["id"],
        "day": DAY,
        "model": "a/one",
        "messages": 2,
        "prompt_tokens": 11,
        "completion_tokens": 7,
        "total_tokens": 18,
        "cost": 0.5,
    }
    assert only_first == lines[:2]


def test_totals_and_the_batched_total_tokens_read(db: Database, alice: UserRecord) -> None:
    bob, carol = make_user("bob@example.com"), make_user("carol@example.com")
    add_users(db, bob, carol)
    spend(db, alice["id"], DAY, "a/one", Usage(10, 5, 15, 0.5))
    spend(db, bob["id"], NEXT_DAY, "a/one", Usage(1, 1, 2))

    with db.unit_of_work(write=False) as unit:
        both_days = unit.usage.totals(DAY, NEXT_DAY)
        second_day = unit.usage.totals(NEXT_DAY, NEXT_DAY)
        tokens = unit.usage.total_tokens([alice["id"], bob["id"], carol["id"], "usr_unknown"])
        none_asked = unit.usage.total_tokens([])

    assert both_days == {
        alice["id"]: UsageTotals(1, 10, 5, 15, 0.5),
        bob["id"]: UsageTotals(1, 1, 1, 2, None),
    }
    assert second_day == {bob["id"]: UsageTotals(1, 1, 1, 2, None)}
    assert tokens == {alice["id"]: 15, bob["id"]: 2, carol["id"]: 0, "usr_unknown": 0}
    assert none_asked == {}


def test_a_unit_that_fails_counts_nothing(db: Database, alice: UserRecord) -> None:
    with pytest.raises(RuntimeError), db.unit_of_work(alice["id"]) as unit:
        unit.usage.record(alice["id"], "conv_x", DAY, "a/one", Usage(1, 1, 2))
        raise RuntimeError("the turn failed after counting")

    with db.unit_of_work(alice["id"], write=False) as unit:
        assert unit.usage.lines(alice["id"], DAY, DAY) == []


def test_deleting_threads_keeps_the_ledger_and_deleting_the_account_erases_it(
    db: Database, alice: UserRecord
) -> None:
    thread = chat(db, alice["id"], "hello")
    spend(db, alice["id"], DAY, "a/one", Usage(1, 1, 2), thread["id"])
    with db.unit_of_work(alice["id"]) as unit:
        unit.threads.delete(alice["id"], thread["id"])
        unit.threads.delete_all(alice["id"])
    with db.unit_of_work(alice["id"], write=False) as unit:
        assert len(unit.usage.lines(alice["id"], DAY, DAY)) == 1

    with db.unit_of_work(alice["id"]) as unit:
        assert unit.accounts.delete(alice["id"])

    with db.unit_of_work(write=False) as unit:
        assert unit.usage.totals(DAY, DAY) == {}
        assert unit.usage.total_tokens([alice["id"]]) == {alice["id"]: 0}
    assert db.export_dump().usage == []


def test_parallel_turns_of_one_account_lose_no_count(db: Database, alice: UserRecord) -> None:
    def turns() -> None:
        for _ in range(10):
            spend(db, alice["id"], DAY, "a/one", Usage(1, 1, 2, 0.25))

    workers = [threading.Thread(target=turns) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    with db.unit_of_work(alice["id"], write=False) as unit:
        (line,) = unit.usage.lines(alice["id"], DAY, DAY)
    assert (line["messages"], line["total_tokens"], line["cost"]) == (40, 80, 10.0)


def _populate_with_usage(db: Database) -> UserRecord:
    alice = make_user("alice@example.com")
    alice["preferences"] = {"model": "a/one", "temperature": 0.5, "system_prompt": "Sois bref."}
    add_users(db, alice, make_user("bob@example.com"))
    thread = make_conversation(alice["id"])
    answer = Completion("ok", "a/one", "stop", Usage(3, 4, 7, 0.01))
    with db.unit_of_work(alice["id"]) as unit:
        unit.threads.add(thread)
        stamped = unit.threads.append(
            alice["id"],
            thread["id"],
            [
                message_record(alice["id"], thread["id"], "user", "hi"),
                message_record(alice["id"], thread["id"], "assistant", "ok", completion=answer),
            ],
        )
        assert stamped is not None
        unit.usage.record(alice["id"], thread["id"], stamped["updated_at"][:10], "a/one", answer.usage)
    spend(db, alice["id"], NEXT_DAY, "b/two", None)  # as a thread deleted since would have left it
    return alice


def test_a_dump_carries_preferences_message_fields_and_the_ledger_through_every_backend(
    db: Database, tmp_path: Path
) -> None:
    alice = _populate_with_usage(db)
    original = db.export_dump()
    write_dump(tmp_path / "dump.json", original)
    restored_dump = read_dump(tmp_path / "dump.json")

    other = TinyDBDatabase.open(tmp_path / "other")
    try:
        other.import_dump(restored_dump)
        assert other.export_dump() == original
        with other.unit_of_work(alice["id"], write=False) as unit:
            assert unit.accounts.get(alice["id"])["preferences"] == alice["preferences"]  # type: ignore[index,typeddict-item]
    finally:
        other.close()
    assert json.loads((tmp_path / "dump.json").read_text())["version"] == 3
    assert sorted(line["model"] for line in original.usage) == ["a/one", "b/two"]
    answer = original.messages[1]
    assert (answer["model"], answer["finish_reason"], answer["usage"]) == (  # type: ignore[typeddict-item]
        "a/one",
        "stop",
        {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7, "cost": 0.01},
    )


def test_a_version_1_dump_restores_with_null_fields_and_an_empty_ledger(db: Database, tmp_path: Path) -> None:
    user = make_user("old@example.com")
    thread = make_conversation(user["id"])
    message = {
        key: value for key, value in message_record(user["id"], thread["id"], "assistant", "old").items()
    }
    for new_field in ("model", "finish_reason", "usage"):
        del message[new_field]
    document = {
        "format": "assistantia-dump",
        "version": 1,
        "users": [user],
        "conversations": [thread],
        "messages": [message],
    }
    (tmp_path / "v1.json").write_text(json.dumps(document))

    db.import_dump(read_dump(tmp_path / "v1.json"))

    dump = db.export_dump()
    assert dump.usage == []
    assert dump.users[0]["preferences"] is None  # type: ignore[typeddict-item]
    assert (dump.messages[0]["model"], dump.messages[0]["usage"]) == (None, None)  # type: ignore[typeddict-item]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ({"day": "2026-02-30"}, "day"),
        ({"model": ""}, "model"),
        ({"messages": -1}, "messages"),
        ({"total_tokens": True}, "total_tokens"),
        ({"cost": "free"}, "cost"),
        ({"user_id": "usr_nobody"}, "unknown user"),
    ],
)
def test_a_dump_with_a_malformed_usage_line_is_refused(
    tmp_path: Path, line: dict[str, object], problem: str
) -> None:
    user = make_user("a@example.com")
    good = {
        "user_id": user["id"],
        "day": DAY,
        "model": "a/one",
        "messages": 1,
        "prompt_tokens": 1,
        "completion_tokens": 1,
        "total_tokens": 2,
        "cost": None,
    }
    document = {
        "format": "assistantia-dump",
        "version": 2,
        "users": [user],
        "conversations": [],
        "messages": [],
        "usage": [{**good, **line}],
    }
    (tmp_path / "bad.json").write_text(json.dumps(document))

    with pytest.raises(RestoreError, match=f"usage\\[0\\].*{problem}"):
        read_dump(tmp_path / "bad.json")


def _answer(database: Database, user_id: str, conversation_id: str | None, usage: Usage) -> str:
    """One turn stored as `services/chat.py` stores it: the answer and its count in one unit."""
    completion = Completion("ok", "a/one", "stop", usage)
    with database.unit_of_work(user_id) as unit:
        if conversation_id is None:
            thread = make_conversation(user_id)
            unit.threads.add(thread)
            conversation_id = thread["id"]
        turn = [
            message_record(user_id, conversation_id, "user", "hi"),
            message_record(user_id, conversation_id, "assistant", "ok", completion=completion),
        ]
        stored = unit.threads.append(user_id, conversation_id, turn)
        assert stored is not None
        unit.usage.record(user_id, conversation_id, stored["updated_at"][:10], "a/one", usage)
    return conversation_id


def _lines(database: Database, user_id: str) -> list[tuple[str, int, int]]:
    with database.unit_of_work(user_id, write=False) as unit:
        lines = unit.usage.lines(user_id, "2000-01-01", "2999-12-31")
    return [(line["model"], line["messages"], line["total_tokens"]) for line in lines]


def test_tinydb_counts_answers_again_at_start_up_and_keeps_deleted_threads_in_an_archive(
    data_dir: Path,
) -> None:
    database = TinyDBDatabase.open(data_dir)
    alice = make_user("alice@example.com")
    try:
        add_users(database, alice)
        kept = _answer(database, alice["id"], None, Usage(1, 1, 2))
        _answer(database, alice["id"], kept, Usage(1, 2, 3))
        gone = _answer(database, alice["id"], None, Usage(10, 10, 20))
        cleared = _answer(database, alice["id"], None, Usage(100, 100, 200))
        with database.unit_of_work(alice["id"]) as unit:
            unit.threads.delete(alice["id"], gone)
            unit.threads.clear(alice["id"], cleared)
        _answer(database, alice["id"], cleared, Usage(0, 1, 1))
        before = _lines(database, alice["id"])
    finally:
        database.close()
    assert before == [("a/one", 5, 226)]
    archive = json.loads((data_dir / "usage" / f"{alice['id']}.json").read_text())["usage"]
    assert [(line["messages"], line["total_tokens"]) for line in archive.values()] == [(2, 220)]

    database = TinyDBDatabase.open(data_dir)
    try:
        assert _lines(database, alice["id"]) == before
        with database.unit_of_work(alice["id"]) as unit:
            unit.accounts.delete(alice["id"])
        assert _lines(database, alice["id"]) == []
        assert not (data_dir / "usage" / f"{alice['id']}.json").exists()
    finally:
        database.close()


def test_tinydb_refuses_a_corrupt_ledger_file_on_its_accounts_first_read_naming_it(data_dir: Path) -> None:
    # Start-up no longer reads the archives: the damage shows on the account's first need, and
    # stays there (never served, never cached), while other accounts are served.
    database = TinyDBDatabase.open(data_dir)
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    try:
        add_users(database, alice, bob)
        thread = _answer(database, alice["id"], None, Usage(1, 1, 2))
        with database.unit_of_work(alice["id"]) as unit:
            unit.threads.delete(alice["id"], thread)
        _answer(database, bob["id"], None, Usage(1, 1, 2))
    finally:
        database.close()
    path = data_dir / "usage" / f"{alice['id']}.json"
    path.write_text(path.read_text().replace('"total_tokens": 2', '"total_tokens": -2'))

    database = TinyDBDatabase.open(data_dir)
    try:
        for _ in range(2):
            with pytest.raises(DataFileCorrupt, match="usage.*total_tokens") as refused:
                _lines(database, alice["id"])
            assert refused.value.path == path
        with pytest.raises(DataFileCorrupt), database.unit_of_work(write=False) as unit:
            unit.usage.total_tokens([alice["id"]])
        assert _lines(database, bob["id"]) == [("a/one", 1, 2)]
    finally:
        database.close()


def test_tinydb_totals_add_archives_stored_summaries_and_later_answers_alike(data_dir: Path) -> None:
    # After a restart the archive and the summaries are packed; a later answer makes its thread's
    # lines a dict again: the global view sums both kinds the same way, one account at a time.
    database = TinyDBDatabase.open(data_dir)
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    try:
        add_users(database, alice, bob)
        kept = _answer(database, alice["id"], None, Usage(1, 1, 2, 0.25))
        gone = _answer(database, alice["id"], None, Usage(10, 10, 20))
        with database.unit_of_work(alice["id"]) as unit:
            unit.threads.delete(alice["id"], gone)
        _answer(database, bob["id"], None, Usage(3, 3, 6))
    finally:
        database.close()

    database = TinyDBDatabase.open(data_dir)
    try:
        _answer(database, alice["id"], kept, Usage(100, 100, 200, 0.5))
        with database.unit_of_work(write=False) as unit:
            totals = unit.usage.totals("2000-01-01", "2999-12-31")
            none = unit.usage.totals("2000-01-01", "2000-01-02")
    finally:
        database.close()
    assert totals == {
        alice["id"]: UsageTotals(3, 111, 111, 222, 0.75),
        bob["id"]: UsageTotals(1, 3, 3, 6, None),
    }
    assert none == {}


def test_a_tinydb_restore_archives_no_rounding_of_costs_added_in_another_order(
    data_dir: Path, tmp_path: Path
) -> None:
    # SQL's ledger adds 0.1, 0.3, 0.7 as they come (1.1); a TinyDB restore adds them thread by
    # thread (0.1 + 0.7, then 0.3: 1.0999999999999999). What is left is rounding, not a deleted thread.
    source = TinyDBDatabase.open(data_dir)
    alice = make_user("alice@example.com")
    try:
        add_users(source, alice)
        first = _answer(source, alice["id"], None, Usage(1, 1, 2, 0.1))
        _answer(source, alice["id"], None, Usage(1, 1, 2, 0.3))
        _answer(source, alice["id"], first, Usage(1, 1, 2, 0.7))
        dump = source.export_dump()
    finally:
        source.close()
    (line,) = dump.usage
    line["cost"] = 0.1 + 0.3 + 0.7  # as a dump from SQL has it
    assert line["cost"] == 1.1

    target = TinyDBDatabase.open(tmp_path / "target")
    try:
        target.import_dump(dump)
        assert _lines(target, alice["id"]) == [("a/one", 3, 6)]
    finally:
        target.close()
    assert not (tmp_path / "target" / "usage" / f"{alice['id']}.json").exists()


def test_a_tinydb_ledger_dumped_restored_and_dumped_again_gives_the_same_costs(
    data_dir: Path, tmp_path: Path
) -> None:
    # A day's cost is a sum whose last digits depend on the order of its parts (a kept thread's
    # answers, then a deleted thread's archive): the ledger reports it rounded, so a round trip
    # gives back the very same figures.
    source = TinyDBDatabase.open(data_dir)
    alice = make_user("alice@example.com")
    try:
        add_users(source, alice)
        threads = [_answer(source, alice["id"], None, Usage(1, 1, 2, 0.0001)) for _ in range(3)]
        for _ in range(12):
            for thread in threads:
                _answer(source, alice["id"], thread, Usage(1, 1, 2, 0.0001))
        with source.unit_of_work(alice["id"]) as unit:
            assert unit.threads.delete(alice["id"], threads[1])
        first = source.export_dump()
    finally:
        source.close()
    dumps = [first]
    for name in ("one", "two"):
        target = TinyDBDatabase.open(tmp_path / name)
        try:
            target.import_dump(dumps[-1])
            dumps.append(target.export_dump())
        finally:
            target.close()
    assert [dump.usage for dump in dumps[1:]] == [first.usage, first.usage]
    assert first.usage[0]["cost"] == round(39 * 0.0001, 12)
