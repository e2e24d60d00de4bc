"""TinyDBDatabase on a real folder: records, owner scoping, hand edits of users.json, dumps."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from BackEnd.errors import (
    EmailAlreadyRegistered,
    RestoreError,
    StorageUnavailable,
)
from BackEnd.records import UserRecord
from BackEnd.storage import TinyDBDatabase
from tests.utils.records import (
    chat,
    json_snapshot,
    make_conversation,
    make_turn,
    make_user,
    populate,
)


@pytest.fixture
def alice(db: TinyDBDatabase) -> UserRecord:
    user = make_user("alice@example.com")
    db.add_user(user)
    return user


LATER = "2999-01-01T00:00:00.000000Z"


def _promote_by_hand(path: Path, email: str, *, in_place: bool) -> None:
    """Edit users.json as a person would: an editor's save-as-new-file, or a rewrite in place."""
    document = json.loads(path.read_text(encoding="utf-8"))
    for user in document["users"].values():
        user["role"] = "admin" if user["email"] == email else user["role"]
    text = json.dumps(document, indent=4)
    if in_place:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.with_name("users.json~").write_text(text, encoding="utf-8")
        os.replace(path.with_name("users.json~"), path)


def test_users_add_get_list_set_role_refuse_taken_email_and_delete(db: TinyDBDatabase) -> None:
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
    assert db.delete_user(alice["id"]) is True
    assert db.delete_user(alice["id"]) is False
    assert db.get_user(alice["id"]) is None and db.get_user_by_email("alice@example.com") is None
    assert [user["id"] for user in db.list_users()] == [bob["id"]]


def test_conversations_are_newest_first_renamable_deletable_and_scoped_to_their_owner(
    db: TinyDBDatabase,
) -> None:
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    db.add_user(alice)
    db.add_user(bob)
    older, newer = make_conversation(alice["id"], "older"), make_conversation(alice["id"], "newer")
    db.add_conversation(older)
    db.add_conversation(newer)

    page = db.list_conversations(alice["id"], limit=10, offset=0)
    assert [c["id"] for c in page.items] == [newer["id"], older["id"]] and page.total == 2
    assert [c["id"] for c in db.list_conversations(alice["id"], limit=1, offset=1).items] == [older["id"]]
    renamed = db.rename_conversation(alice["id"], older["id"], title="renamed", updated_at=LATER)
    assert renamed is not None and renamed["title"] == "renamed"
    assert db.list_conversations(alice["id"], limit=10, offset=0).items[0]["id"] == older["id"]

    assert db.get_conversation(bob["id"], older["id"]) is None
    assert db.rename_conversation(bob["id"], older["id"], title="x", updated_at=LATER) is None
    assert db.delete_conversation(bob["id"], older["id"]) is False
    assert db.list_messages(bob["id"], older["id"], limit=10, offset=0) is None
    assert db.list_conversations(bob["id"], limit=10, offset=0).total == 0

    assert db.delete_conversation(alice["id"], older["id"]) is True
    assert db.get_conversation(alice["id"], older["id"]) is None
    assert db.get_conversation(alice["id"], newer["id"])["title"] == "newer"  # type: ignore[index]


def test_add_turn_with_new_conversation_creates_both_files(db: TinyDBDatabase, alice: UserRecord) -> None:
    stored = chat(db, alice["id"], "hello")

    assert (db.folder / "conversations" / f"{alice['id']}.json").is_file()
    assert (db.folder / "historique" / f"{stored['id']}.json").is_file()
    messages = db.list_messages(alice["id"], stored["id"], limit=10, offset=0)
    assert messages is not None and [m["content"] for m in messages.items] == ["hello", "echo: hello"]


def test_add_turn_on_vanished_conversation_returns_none_and_writes_nothing(
    db: TinyDBDatabase, alice: UserRecord
) -> None:
    gone = make_conversation(alice["id"])
    db.add_conversation(gone)
    db.delete_conversation(alice["id"], gone["id"])
    before = json_snapshot(db.folder)

    assert db.add_turn(alice["id"], gone["id"], make_turn(alice["id"], gone["id"], "late")) is None
    ghost = make_conversation("usr_deleted")
    turn = make_turn("usr_deleted", ghost["id"], "x")
    assert db.add_turn("usr_deleted", ghost["id"], turn, new_conversation=ghost) is None
    assert json_snapshot(db.folder) == before


def test_recent_messages_returns_the_last_ones_and_none_for_count_zero(
    db: TinyDBDatabase, alice: UserRecord
) -> None:
    thread = chat(db, alice["id"], "one")
    chat(db, alice["id"], "two", thread["id"])

    assert db.recent_messages(alice["id"], thread["id"], 0) == []
    last_three = db.recent_messages(alice["id"], thread["id"], 3)
    assert [m["content"] for m in last_three or []] == ["echo: one", "two", "echo: two"]
    assert db.recent_messages(alice["id"], "conv_unknown", 3) is None


def test_messages_read_are_copies_so_changing_them_changes_nothing_stored(
    db: TinyDBDatabase, alice: UserRecord
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


def test_list_messages_pages_in_time_order_with_the_total(db: TinyDBDatabase, alice: UserRecord) -> None:
    thread = chat(db, alice["id"], "m0")
    for index in range(1, 5):
        chat(db, alice["id"], f"m{index}", thread["id"])

    page = db.list_messages(alice["id"], thread["id"], limit=3, offset=4)
    assert page is not None and page.total == 10
    assert [m["content"] for m in page.items] == ["m2", "echo: m2", "m3"]
    stamps = [m["created_at"] for m in page.items]
    assert stamps == sorted(stamps)


def test_delete_user_removes_the_account_and_all_its_files(db: TinyDBDatabase) -> None:
    users, folder = populate(db), db.folder
    alice_threads = [c["id"] for c in db.list_conversations(users["alice"]["id"], limit=10, offset=0).items]

    assert db.delete_user(users["alice"]["id"]) is True

    assert not (folder / "conversations" / f"{users['alice']['id']}.json").exists()
    assert all(not (folder / "historique" / f"{cid}.json").exists() for cid in alice_threads)
    assert (folder / "conversations" / f"{users['bob']['id']}.json").exists()
    assert len(list((folder / "historique").glob("*.json"))) == 1


@pytest.mark.parametrize("in_place", [False, True], ids=["editor-save", "in-place-rewrite"])
def test_hand_edit_of_users_json_is_seen_by_the_next_read(
    db: TinyDBDatabase, alice: UserRecord, in_place: bool
) -> None:
    assert db.get_user(alice["id"])["role"] == "user"  # type: ignore[index]

    _promote_by_hand(db.folder / "users.json", "alice@example.com", in_place=in_place)

    assert db.get_user(alice["id"])["role"] == "admin"  # type: ignore[index]
    assert db.get_user_by_email("alice@example.com")["role"] == "admin"  # type: ignore[index]


def test_invalid_hand_edit_keeps_last_good_copy_refuses_writes_and_is_never_overwritten(
    db: TinyDBDatabase, alice: UserRecord
) -> None:
    users_json = db.folder / "users.json"
    users_json.write_text('{"users": {"1": {"email": "alice@example.com", "role": "admin"', encoding="utf-8")
    broken = users_json.read_bytes()

    assert db.get_user(alice["id"]) == alice
    with pytest.raises(StorageUnavailable):
        db.add_user(make_user("bob@example.com"))
    with pytest.raises(StorageUnavailable):
        db.set_role("alice@example.com", "admin")
    assert users_json.read_bytes() == broken

    users_json.write_text(json.dumps({"users": {"1": dict(alice, role="admin")}}), encoding="utf-8")
    db.add_user(make_user("bob@example.com"))
    assert db.get_user(alice["id"])["role"] == "admin"  # type: ignore[index]
    assert len(db.list_users()) == 2


@pytest.mark.parametrize("in_place", [False, True], ids=["editor-save", "in-place-rewrite"])
def test_hand_edit_followed_by_a_server_write_keeps_the_edit(
    db: TinyDBDatabase, alice: UserRecord, in_place: bool
) -> None:
    _promote_by_hand(db.folder / "users.json", "alice@example.com", in_place=in_place)

    db.add_user(make_user("bob@example.com"))

    on_disk = json.loads((db.folder / "users.json").read_text())["users"].values()
    assert {u["email"]: u["role"] for u in on_disk} == {
        "alice@example.com": "admin",
        "bob@example.com": "user",
    }
    assert db.get_user(alice["id"])["role"] == "admin"  # type: ignore[index]


def test_export_then_import_into_an_empty_folder_gives_an_identical_export(
    db: TinyDBDatabase, tmp_path: Path
) -> None:
    populate(db)
    exported = db.export_dump()
    copy = TinyDBDatabase.open(tmp_path / "copy")
    try:
        copy.import_dump(exported)
        assert copy.export_dump() == exported
    finally:
        copy.close()
    assert len(exported.users) == 2 and len(exported.conversations) == 3 and len(exported.messages) == 8


def test_import_into_a_non_empty_folder_raises_restore_error_and_changes_nothing(db: TinyDBDatabase) -> None:
    populate(db)
    exported = db.export_dump()
    before = json_snapshot(db.folder)

    with pytest.raises(RestoreError, match="not empty"):
        db.import_dump(exported)
    assert json_snapshot(db.folder) == before
