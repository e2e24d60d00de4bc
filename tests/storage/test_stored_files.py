"""The stored-files capability on every backend: commit with the turn, owner scoping, cascades, dumps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from BackEnd.records import ImageRef, message_record, new_id
from BackEnd.storage import Database, TinyDBDatabase
from BackEnd.storage.dump import read_dump, write_dump
from BackEnd.storage.file_store import StoredFile
from tests.utils.images import GIF, PNG, stored_file_count
from tests.utils.records import add_users, make_conversation, make_user


def turn_with_image(
    database: Database, user_id: str, data: bytes = PNG, conversation_id: str | None = None
) -> tuple[str, StoredFile]:
    """Store a thread (or a turn in it) whose question carries one stored image."""
    thread = make_conversation(user_id) if conversation_id is None else None
    target = thread["id"] if thread else conversation_id
    assert target is not None
    file_id = new_id("file")
    image: ImageRef = {
        "id": file_id,
        "url": f"/files/{file_id}",
        "content_type": "image/png",
        "bytes": len(data),
    }
    question = message_record(user_id, target, "user", "regarde", images=[image])
    file = StoredFile(file_id, user_id, target, question["id"], "image/png", data)
    with database.unit_of_work(user_id) as unit:
        if thread is not None:
            unit.threads.add(thread)
        assert unit.threads.append(user_id, target, [question]) is not None
        unit.stored_files.add(file)
        assert unit.stored_files.get(user_id, file_id) == file  # the unit sees its own file
    return target, file


@pytest.fixture
def two_users(db: Database) -> tuple[str, str]:
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    add_users(db, alice, bob)
    return alice["id"], bob["id"]


def test_a_file_commits_with_its_message_and_is_only_its_owners(
    db: Database, two_users: tuple[str, str]
) -> None:
    alice, bob = two_users
    _, file = turn_with_image(db, alice)
    with db.unit_of_work(write=False) as unit:
        assert unit.stored_files.get(alice, file.id) == file
        assert unit.stored_files.get(bob, file.id) is None
        assert unit.stored_files.get(alice, new_id("file")) is None


def test_an_abandoned_unit_leaves_no_file(db: Database, two_users: tuple[str, str]) -> None:
    alice, _ = two_users
    with pytest.raises(RuntimeError), db.unit_of_work(alice) as unit:
        thread = make_conversation(alice)
        unit.threads.add(thread)
        question = message_record(alice, thread["id"], "user", "x")
        unit.threads.append(alice, thread["id"], [question])
        unit.stored_files.add(
            StoredFile(new_id("file"), alice, thread["id"], question["id"], "image/png", PNG)
        )
        raise RuntimeError("the model failed")
    assert stored_file_count(db) == 0


@pytest.mark.parametrize("removal", ["delete", "clear", "delete_all", "account"])
def test_removing_the_message_removes_its_file(
    db: Database, two_users: tuple[str, str], removal: str
) -> None:
    alice, bob = two_users
    conversation_id, file = turn_with_image(db, alice)
    turn_with_image(db, bob, GIF)
    with db.unit_of_work(alice) as unit:
        if removal == "delete":
            assert unit.threads.delete(alice, conversation_id)
        elif removal == "clear":
            assert unit.threads.clear(alice, conversation_id)
        elif removal == "delete_all":
            assert unit.threads.delete_all(alice) == 1
        else:
            assert unit.accounts.delete(alice)
    with db.unit_of_work(write=False) as unit:
        assert unit.stored_files.get(alice, file.id) is None
    assert stored_file_count(db) == 1


@pytest.fixture
def other_tinydb(tmp_path: Path) -> Iterator[TinyDBDatabase]:
    database = TinyDBDatabase.open(tmp_path / "other")
    yield database
    database.close()


def test_a_dump_carries_the_files_through_this_backend_and_tinydb(
    db: Database, two_users: tuple[str, str], other_tinydb: TinyDBDatabase, tmp_path: Path
) -> None:
    alice, bob = two_users
    conversation_id, first = turn_with_image(db, alice)
    _, second = turn_with_image(db, alice, GIF, conversation_id)
    _, third = turn_with_image(db, bob)
    dump = db.export_dump()
    assert sorted(file.id for file in dump.files) == sorted(file.id for file in (first, second, third))

    write_dump(tmp_path / "dump.json", dump)
    assert json.loads((tmp_path / "dump.json").read_text())["version"] == 3
    read = read_dump(tmp_path / "dump.json")
    assert read.files == dump.files and read.messages == dump.messages
    other_tinydb.import_dump(read)
    assert other_tinydb.export_dump() == dump
    with other_tinydb.unit_of_work(write=False) as unit:
        assert unit.stored_files.get(alice, second.id) == second


def test_a_version_2_dump_still_restores_without_images(db: Database, tmp_path: Path) -> None:
    alice = make_user("alice@example.com")
    thread = make_conversation(alice["id"])
    question = {
        k: v for k, v in message_record(alice["id"], thread["id"], "user", "bonjour").items() if k != "images"
    }
    document = {
        "format": "assistantia-dump",
        "version": 2,
        "users": [alice],
        "conversations": [thread],
        "messages": [question],
        "usage": [],
        "audit": [],
    }
    (tmp_path / "v2.json").write_text(json.dumps(document))
    dump = read_dump(tmp_path / "v2.json")
    db.import_dump(dump)
    exported = db.export_dump()
    assert exported.files == [] and exported.messages[0]["images"] is None


def test_a_dump_file_named_by_no_message_is_refused(
    tmp_path: Path, db: Database, two_users: tuple[str, str]
) -> None:
    alice, _ = two_users
    turn_with_image(db, alice)
    write_dump(tmp_path / "dump.json", db.export_dump())
    document = json.loads((tmp_path / "dump.json").read_text())
    document["files"][0]["id"] = new_id("file")
    (tmp_path / "dump.json").write_text(json.dumps(document))
    from BackEnd.errors import RestoreError

    with pytest.raises(RestoreError, match=r"files\[0\]"):
        read_dump(tmp_path / "dump.json")
