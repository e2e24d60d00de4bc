"""Streamed dumps on every backend: the writer's file, old one-line files, late faults, bounded memory."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from BackEnd.errors import RestoreError
from BackEnd.progress import Progress
from BackEnd.storage import Database, TinyDBDatabase
from BackEnd.storage.dump import DUMP_VERSION, open_dump, read_dump, write_dump
from BackEnd.storage.dump_reader import CheckedDump
from BackEnd.storage.files import TEMP_SUFFIX
from tests.utils.records import make_conversation, make_turn, make_user, populate


@pytest.fixture
def source(tmp_path: Path) -> Iterator[TinyDBDatabase]:
    """A populated TinyDB folder: where the dumps of these tests come from."""
    database = TinyDBDatabase.open(tmp_path / "source")
    populate(database)
    yield database
    database.close()


def _document(database: Database) -> dict[str, Any]:
    """What a dump of `database` must hold, built from the in-memory export."""
    dump = database.export_dump()
    files = [
        {
            "id": file.id,
            "user_id": file.user_id,
            "conversation_id": file.conversation_id,
            "message_id": file.message_id,
            "content_type": file.content_type,
            "data": base64.b64encode(file.data).decode("ascii"),
        }
        for file in dump.files
    ]
    return {
        "format": "assistantia-dump",
        "version": DUMP_VERSION,
        "users": dump.users,
        "conversations": dump.conversations,
        "messages": dump.messages,
        "usage": dump.usage,
        "audit": dump.audit,
        "files": files,
    }


def _restore(database: Database, path: Path) -> None:
    with open_dump(path) as dump:
        database.restore(dump)


def test_the_streamed_file_is_one_json_document_of_todays_format_one_record_a_line(
    db: Database, tmp_path: Path
) -> None:
    populate(db)
    path = tmp_path / "dump.json"
    with db.dump_source() as dump_source:
        write_dump(path, dump_source)

    document = json.loads(path.read_text(encoding="utf-8"))
    assert {key: value for key, value in document.items() if key != "exported_at"} == _document(db)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) > len(document["messages"])  # one record a line, not one huge line


def test_a_dump_round_trips_through_the_file_identically_on_every_backend(
    db: Database, source: TinyDBDatabase, tmp_path: Path
) -> None:
    path, again = tmp_path / "dump.json", tmp_path / "again.json"
    with source.dump_source() as dump_source:
        write_dump(path, dump_source)

    _restore(db, path)
    with db.dump_source() as dump_source:
        write_dump(again, dump_source)

    assert db.export_dump() == source.export_dump()
    first, second = (json.loads(p.read_text(encoding="utf-8")) for p in (path, again))
    assert first.pop("exported_at") <= second.pop("exported_at") and first == second


def test_an_old_one_line_dump_restores_as_it_always_did(
    db: Database, source: TinyDBDatabase, tmp_path: Path
) -> None:
    path = tmp_path / "old.json"
    path.write_text(json.dumps(_document(source), ensure_ascii=False), encoding="utf-8")  # one huge line
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1

    _restore(db, path)

    assert db.export_dump() == source.export_dump()


def test_members_in_another_order_and_messages_not_grouped_by_thread_still_restore(
    db: Database, source: TinyDBDatabase, tmp_path: Path
) -> None:
    document = _document(source)
    shuffled = document["messages"][0::2] + document["messages"][1::2]  # threads interleaved
    reordered = {"messages": shuffled, "files": document["files"], "audit": document["audit"]}
    reordered.update(
        usage=document["usage"], conversations=document["conversations"], users=document["users"]
    )
    reordered.update(version=document["version"], format=document["format"])
    path = tmp_path / "reordered.json"
    path.write_text(json.dumps(reordered), encoding="utf-8")

    _restore(db, path)

    expected = source.export_dump()
    restored = db.export_dump()
    assert restored.users == expected.users and restored.conversations == expected.conversations
    assert sorted(m["id"] for m in restored.messages) == sorted(m["id"] for m in expected.messages)


def test_a_bad_record_at_the_end_leaves_the_target_empty_and_names_the_record(
    db: Database, source: TinyDBDatabase, tmp_path: Path
) -> None:
    document = _document(source)
    last = len(document["messages"]) - 1
    document["messages"][last]["created_at"] = "yesterday"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document), encoding="utf-8")

    with pytest.raises(RestoreError, match=rf"messages\[{last}\] has a malformed created_at"):
        _restore(db, path)

    empty = db.export_dump()
    assert (empty.users, empty.conversations, empty.messages) == ([], [], [])


def test_a_file_cut_short_is_refused_with_where_and_nothing_is_written(
    db: Database, source: TinyDBDatabase, tmp_path: Path
) -> None:
    whole = json.dumps(_document(source)).encode()
    path = tmp_path / "cut.json"
    path.write_bytes(whole[: len(whole) - 40])

    with pytest.raises(RestoreError, match="is not valid JSON"):
        _restore(db, path)
    assert db.export_dump().users == []


def test_a_message_id_repeated_within_a_thread_is_refused(source: TinyDBDatabase, tmp_path: Path) -> None:
    document = _document(source)
    document["messages"][1]["id"] = document["messages"][0]["id"]
    path = tmp_path / "twice.json"
    path.write_text(json.dumps(document), encoding="utf-8")

    with pytest.raises(RestoreError, match=r"messages\[1\] repeats the id"):
        read_dump(path)


def test_memory_holds_about_one_record_whatever_the_number_of_messages(tmp_path: Path) -> None:
    alice = make_user("alice@example.com")
    threads = [make_conversation(alice["id"], f"Thread {n}") for n in range(40)]
    messages = [message for thread in threads for message in make_turn(alice["id"], thread["id"], "x" * 300)]
    document = {"format": "assistantia-dump", "version": 3, "users": [alice], "conversations": threads}
    document["messages"] = messages
    path = tmp_path / "many.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    largest_record = max(len(json.dumps(record)) for record in [alice, *threads, *messages])
    assert path.stat().st_size > 40 * largest_record

    # Read 64 bytes at a time: the buffer grows only as far as one record needs.
    dump = CheckedDump(path, "assistantia-dump", frozenset({1, 2, 3}), chunk_bytes=64)
    try:
        dump.check(lambda _: None)
        restored = [message for _, thread in dump.threads() for message in thread]
        assert len(restored) == len(messages) == dump.counts.messages
        assert dump.largest_buffer <= 4 * largest_record
    finally:
        dump.close()


def test_a_tiny_buffer_reads_every_record_the_same(source: TinyDBDatabase, tmp_path: Path) -> None:
    path = tmp_path / "dump.json"
    with source.dump_source() as dump_source:
        write_dump(path, dump_source)

    tiny = CheckedDump(path, "assistantia-dump", frozenset({1, 2, 3}), chunk_bytes=7)
    try:
        tiny.check(lambda _: None)
        assert [m for _, thread in tiny.threads_in_file_order() for m in thread] == read_dump(path).messages
        assert list(tiny.users()) == read_dump(path).users
    finally:
        tiny.close()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_counts_every_record_of_the_dump_on_a_terminal(
    source: TinyDBDatabase, tmp_path: Path
) -> None:
    terminal = _Terminal()
    with source.dump_source() as dump_source:
        total = dump_source.counts.total
        with Progress("dump", total, stream=terminal) as progress:
            write_dump(tmp_path / "dump.json", dump_source, progress.advance)
            assert progress.done == total
    shown = terminal.getvalue()
    assert f"dump: {total:,} of {total:,} records (100 %)" in shown or f"of {total:,} records" in shown
    assert shown.rsplit("\r\x1b[2K", 1)[1].startswith(f"dump: {total:,} records in ")


def test_a_tinydb_restore_failing_before_its_commit_leaves_no_file_behind(
    source: TinyDBDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "dump.json"
    with source.dump_source() as dump_source:
        write_dump(path, dump_source)
    target = TinyDBDatabase.open(tmp_path / "target")

    def disk_gone(names: list[str]) -> None:
        assert names and all(Path(name).exists() for name in names)  # the threads were written
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("BackEnd.storage.tinydb_dumps.sync_all", disk_gone)
    try:
        with pytest.raises(OSError):
            _restore(target, path)
        assert target.export_dump().users == []
    finally:
        target.close()
    left = [p.name for p in (tmp_path / "target").rglob("*") if p.is_file() and p.suffix != ".lock"]
    empty_folder = {"users.json", "layout.json"}  # what a new, empty folder holds
    assert not [name for name in left if name.endswith(".json") and name not in empty_folder], left
    assert not [name for name in left if name.endswith(TEMP_SUFFIX)], left


def test_sql_refuses_one_message_id_in_two_threads_and_stays_empty(
    db: Database, backend: str, source: TinyDBDatabase, tmp_path: Path
) -> None:
    if backend == "tinydb":
        pytest.skip("TinyDB keeps a thread's messages in its own file: ids need differ only within it")
    document = _document(source)
    first, other = (
        document["messages"][0],
        next(
            m
            for m in document["messages"]
            if m["conversation_id"] != document["messages"][0]["conversation_id"]
        ),
    )
    other["id"] = first["id"]
    path = tmp_path / "shared-id.json"
    path.write_text(json.dumps(document), encoding="utf-8")

    with pytest.raises(RestoreError, match="refused a record"):
        _restore(db, path)
    assert db.export_dump().users == []


def _ledger_line(user_id: str, day: str, tokens: int) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "day": day,
        "model": "a/one",
        "messages": 1,
        "prompt_tokens": tokens,
        "completion_tokens": 0,
        "total_tokens": tokens,
        "cost": None,
    }


def test_ledger_lines_not_grouped_by_account_still_restore(
    db: Database, source: TinyDBDatabase, tmp_path: Path
) -> None:
    # The check keeps one account's keys while the file lists accounts one after the other; an
    # account seen again later makes it check the whole ledger again, keeping every key.
    document = _document(source)
    alice, bob = (user["id"] for user in document["users"][:2])
    document["usage"] = [
        _ledger_line(alice, "2020-01-01", 1),
        _ledger_line(bob, "2020-01-01", 2),
        _ledger_line(alice, "2020-01-02", 3),
    ]
    path = tmp_path / "interleaved.json"
    path.write_text(json.dumps(document), encoding="utf-8")

    _restore(db, path)

    with db.unit_of_work(write=False) as unit:
        lines = unit.usage.lines(alice, "2020-01-01", "2020-12-31")
        totals = unit.usage.totals("2020-01-01", "2020-12-31")
    assert [(line["day"], line["total_tokens"]) for line in lines] == [("2020-01-01", 1), ("2020-01-02", 3)]
    assert {user: figures.total_tokens for user, figures in totals.items()} == {alice: 4, bob: 2}


def test_a_ledger_line_repeated_after_another_accounts_is_refused(
    source: TinyDBDatabase, tmp_path: Path
) -> None:
    document = _document(source)
    alice, bob = (user["id"] for user in document["users"][:2])
    document["usage"] = [
        _ledger_line(alice, "2020-01-01", 1),
        _ledger_line(bob, "2020-01-01", 2),
        _ledger_line(alice, "2020-01-01", 3),
    ]
    path = tmp_path / "repeated.json"
    path.write_text(json.dumps(document), encoding="utf-8")

    with pytest.raises(RestoreError, match=r"usage\[2\] repeats the day and model"):
        read_dump(path)
