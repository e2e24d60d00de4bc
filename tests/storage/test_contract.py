"""The storage contract (base.py) on every backend: same records, order, totals, cascades and dumps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from BackEnd.errors import EmailAlreadyRegistered, RestoreError
from BackEnd.records import UserRecord
from BackEnd.storage import Database, Page, TinyDBDatabase
from tests.utils.records import chat, make_conversation, make_turn, make_user, populate, stored_state

LATER = "2999-01-01T00:00:00.000000Z"


@pytest.fixture
def alice(db: Database) -> UserRecord:
    user = make_user("alice@example.com")
    db.add_user(user)
    return user


@pytest.fixture
def other_tinydb(tmp_path: Path) -> Iterator[TinyDBDatabase]:
    """A second, empty TinyDB folder: the other end of a migration."""
    database = TinyDBDatabase.open(tmp_path / "other")
    yield database
    database.close()


def test_users_add_get_list_set_role_refuse_taken_email_and_delete(db: Database) -> None:
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    db.add_user(alice)
    db.add_user(bob)

    assert db.get_user(alice["id"]) == alice
    assert db.get_user_by_email("bob@example.com") == bob
    assert db.get_user("usr_missing") is None and db.get_user_by_email("nobody@example.com") is None
    assert [user["id"] for user in db.list_users()] == [alice["id"], bob["id"]]

    assert db.set_role("alice@example.com", "admin")["role"] == "admin"  # type: ignore[index]
    assert db.get_user(alice["id"])["role"] == "admin"  # type: ignore[index]
    assert db.set_role("nobody@example.com", "admin") is None

    with pytest.raises(EmailAlreadyRegistered):
        db.add_user(make_user("bob@example.com"))
    assert db.get_user_by_email("bob@example.com") == bob
    assert db.delete_user(alice["id"]) is True
    assert db.delete_user(alice["id"]) is False
    assert db.get_user(alice["id"]) is None and db.get_user_by_email("alice@example.com") is None
    assert [user["id"] for user in db.list_users()] == [bob["id"]]


def test_conversations_are_newest_first_renamable_deletable_and_scoped_to_their_owner(db: Database) -> None:
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    db.add_user(alice)
    db.add_user(bob)
    older, newer = make_conversation(alice["id"], "older"), make_conversation(alice["id"], "newer")
    db.add_conversation(older)
    db.add_conversation(newer)

    page = db.list_conversations(alice["id"], limit=10, offset=0)
    assert [c["id"] for c in page.items] == [newer["id"], older["id"]] and page.total == 2
    assert page.items[1] == older
    assert [c["id"] for c in db.list_conversations(alice["id"], limit=1, offset=1).items] == [older["id"]]
    renamed = db.rename_conversation(alice["id"], older["id"], title="renamed", updated_at=LATER)
    assert renamed == {**older, "title": "renamed", "updated_at": LATER}
    assert db.list_conversations(alice["id"], limit=10, offset=0).items[0]["id"] == older["id"]

    assert db.get_conversation(bob["id"], older["id"]) is None
    assert db.rename_conversation(bob["id"], older["id"], title="x", updated_at=LATER) is None
    assert db.delete_conversation(bob["id"], older["id"]) is False
    assert db.list_messages(bob["id"], older["id"], limit=10, offset=0) is None
    assert db.list_conversations(bob["id"], limit=10, offset=0).total == 0

    assert db.delete_conversation(alice["id"], older["id"]) is True
    assert db.delete_conversation(alice["id"], older["id"]) is False
    assert db.get_conversation(alice["id"], older["id"]) is None
    assert db.get_conversation(alice["id"], newer["id"]) == newer


def test_add_conversation_for_a_vanished_account_stores_nothing(db: Database) -> None:
    db.add_conversation(make_conversation("usr_deleted"))

    assert db.export_dump().conversations == []


def test_add_turn_stores_the_turn_in_order_and_moves_updated_at_to_its_last_message(
    db: Database, alice: UserRecord
) -> None:
    thread = chat(db, alice["id"], "one")
    second = chat(db, alice["id"], "two", thread["id"])

    page = db.list_messages(alice["id"], thread["id"], limit=10, offset=0)
    assert page is not None and page.total == 4
    assert [m["content"] for m in page.items] == ["one", "echo: one", "two", "echo: two"]
    times = [m["created_at"] for m in page.items]
    assert times == sorted(set(times)) and times[0] > thread["created_at"]
    assert second["updated_at"] == times[-1] == db.get_conversation(alice["id"], thread["id"])["updated_at"]  # type: ignore[index]
    assert set(page.items[0]) == {"id", "conversation_id", "user_id", "role", "content", "created_at"}
    assert [m["content"] for m in db.list_messages(alice["id"], thread["id"], limit=2, offset=1).items] == [  # type: ignore[union-attr]
        "echo: one",
        "two",
    ]


def test_add_turn_on_a_vanished_conversation_or_account_returns_none_and_stores_nothing(
    db: Database, alice: UserRecord
) -> None:
    gone = make_conversation(alice["id"])
    db.add_conversation(gone)
    db.delete_conversation(alice["id"], gone["id"])
    before = stored_state(db)  # TinyDB: every file's bytes, so not even an orphan file appears

    assert db.add_turn(alice["id"], gone["id"], make_turn(alice["id"], gone["id"], "late")) is None
    ghost = make_conversation("usr_deleted")
    turn = make_turn("usr_deleted", ghost["id"], "x")
    assert db.add_turn("usr_deleted", ghost["id"], turn, new_conversation=ghost) is None
    assert stored_state(db) == before


def test_recent_messages_returns_the_last_ones_and_none_for_count_zero(
    db: Database, alice: UserRecord
) -> None:
    thread = chat(db, alice["id"], "one")
    chat(db, alice["id"], "two", thread["id"])

    assert db.recent_messages(alice["id"], thread["id"], 0) == []
    last_three = db.recent_messages(alice["id"], thread["id"], 3)
    assert [m["content"] for m in last_three or []] == ["echo: one", "two", "echo: two"]
    assert db.recent_messages(alice["id"], "conv_unknown", 3) is None


def test_clear_messages_keeps_the_thread_and_is_scoped_to_its_owner(db: Database) -> None:
    users = populate(db)
    alice, bob = users["alice"]["id"], users["bob"]["id"]
    thread = db.list_conversations(alice, limit=10, offset=0).items[0]

    assert db.clear_messages(bob, thread["id"]) is False
    assert db.list_messages(alice, thread["id"], limit=10, offset=0).total == 2  # type: ignore[union-attr]
    assert db.clear_messages(alice, thread["id"]) is True
    assert db.list_messages(alice, thread["id"], limit=10, offset=0) == Page(items=[], total=0)
    assert db.get_conversation(alice, thread["id"]) == thread


def test_delete_conversations_removes_only_the_owners_threads_and_their_messages(db: Database) -> None:
    users = populate(db)
    alice, bob = users["alice"]["id"], users["bob"]["id"]

    assert db.delete_conversations(alice) == 2
    assert db.delete_conversations(alice) == 0

    dump = db.export_dump()
    assert {c["user_id"] for c in dump.conversations} == {bob}
    assert {m["user_id"] for m in dump.messages} == {bob} and len(dump.messages) == 2
    assert len(dump.users) == 2


def test_delete_user_cascades_to_their_conversations_and_messages_only(db: Database) -> None:
    users = populate(db)

    assert db.delete_user(users["alice"]["id"]) is True

    dump = db.export_dump()
    assert [u["id"] for u in dump.users] == [users["bob"]["id"]]
    assert (
        {c["user_id"] for c in dump.conversations}
        == {m["user_id"] for m in dump.messages}
        == {users["bob"]["id"]}
    )
    assert len(dump.conversations) == 1 and len(dump.messages) == 2


def test_export_lists_each_thread_after_its_owner_with_its_messages_in_order(db: Database) -> None:
    populate(db)

    dump = db.export_dump()

    assert len(dump.users) == 2 and len(dump.conversations) == 3 and len(dump.messages) == 8
    owners = [u["id"] for u in dump.users]
    assert [c["user_id"] for c in dump.conversations] == sorted(
        (c["user_id"] for c in dump.conversations), key=owners.index
    )
    threads = [c["id"] for c in dump.conversations]
    assert [m["conversation_id"] for m in dump.messages] == sorted(
        (m["conversation_id"] for m in dump.messages), key=threads.index
    )
    assert [m["content"] for m in dump.messages[:4]] == [
        "bonjour",
        "echo: bonjour",
        "ça va ? ünïcödé",
        "echo: ça va ? ünïcödé",
    ]


def test_dump_round_trips_identically_through_this_backend_and_tinydb(
    db: Database, other_tinydb: TinyDBDatabase, tmp_path: Path
) -> None:
    populate(other_tinydb)
    original = other_tinydb.export_dump()

    db.import_dump(original)
    through_db = db.export_dump()
    back = TinyDBDatabase.open(tmp_path / "back")
    try:
        back.import_dump(through_db)
        assert through_db == original
        assert back.export_dump() == original
    finally:
        back.close()


def test_import_into_a_non_empty_database_raises_restore_error_and_changes_nothing(db: Database) -> None:
    populate(db)
    exported = db.export_dump()

    with pytest.raises(RestoreError, match="not empty"):
        db.import_dump(exported)
    assert db.export_dump() == exported


def test_messages_read_are_copies_so_changing_them_changes_nothing_stored(
    db: Database, alice: UserRecord
) -> None:
    thread = chat(db, alice["id"], "original")
    page = db.list_messages(alice["id"], thread["id"], limit=10, offset=0)
    recent = db.recent_messages(alice["id"], thread["id"], 1)
    assert page is not None and recent is not None
    page.items[0]["content"] = "tampered"
    recent[0]["content"] = "tampered too"
    dumped = db.export_dump().messages
    dumped[0]["content"] = "tampered in the dump"

    again = db.list_messages(alice["id"], thread["id"], limit=10, offset=0)
    assert again is not None and [m["content"] for m in again.items] == ["original", "echo: original"]


def test_list_messages_pages_in_time_order_with_the_total(db: Database, alice: UserRecord) -> None:
    thread = chat(db, alice["id"], "m0")
    for index in range(1, 5):
        chat(db, alice["id"], f"m{index}", thread["id"])

    page = db.list_messages(alice["id"], thread["id"], limit=3, offset=4)
    assert page is not None and page.total == 10
    assert [m["content"] for m in page.items] == ["m2", "echo: m2", "m3"]
    stamps = [m["created_at"] for m in page.items]
    assert stamps == sorted(stamps)
