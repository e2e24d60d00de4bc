"""What only the TinyDB backend does: its files, hand edits of users.json (tests/storage/test_contract.py has the rest)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from BackEnd.errors import (
    RestoreError,
    StorageUnavailable,
)
from BackEnd.records import UserRecord
from BackEnd.storage import TinyDBDatabase
from tests.utils.records import (
    add_users,
    chat,
    get_user_by_email,
    json_snapshot,
    make_turn,
    make_user,
    populate,
    set_role,
)


@pytest.fixture
def alice(tinydb: TinyDBDatabase) -> UserRecord:
    user = make_user("alice@example.com")
    add_users(tinydb, user)
    return user


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


def _contents(tinydb: TinyDBDatabase, user_id: str, conversation_id: str) -> list[str]:
    with tinydb.unit_of_work(user_id, write=False) as uow:
        page = uow.threads.messages(user_id, conversation_id, limit=10, offset=0)
    assert page is not None
    return [message["content"] for message in page.items]


def _account(tinydb: TinyDBDatabase, user_id: str) -> UserRecord | None:
    with tinydb.unit_of_work(write=False) as uow:
        return uow.accounts.get(user_id)


def test_a_new_thread_with_its_first_turn_creates_both_files(
    tinydb: TinyDBDatabase, alice: UserRecord
) -> None:
    stored = chat(tinydb, alice["id"], "hello")

    assert (tinydb.folder / "conversations" / f"{alice['id']}.json").is_file()
    assert (tinydb.folder / "historique" / f"{stored['id']}.json").is_file()
    assert _contents(tinydb, alice["id"], stored["id"]) == ["hello", "echo: hello"]


def test_turn_that_cannot_be_encoded_is_refused_and_leaves_memory_and_disk_as_they_were(
    tinydb: TinyDBDatabase, alice: UserRecord
) -> None:
    thread = chat(tinydb, alice["id"], "kept")
    before = json_snapshot(tinydb.folder)
    poisoned = make_turn(alice["id"], thread["id"], "ok")
    poisoned[1]["content"] = "half an emoji \ud83d"  # no UTF-8 file can hold a lone surrogate

    with pytest.raises(StorageUnavailable), tinydb.unit_of_work(alice["id"]) as uow:
        uow.threads.append(alice["id"], thread["id"], poisoned)

    assert json_snapshot(tinydb.folder) == before
    assert _contents(tinydb, alice["id"], thread["id"]) == ["kept", "echo: kept"]
    chat(tinydb, alice["id"], "after", thread["id"])  # the thread is not poisoned for later turns
    assert len(_contents(tinydb, alice["id"], thread["id"])) == 4


def test_delete_user_removes_the_account_and_all_its_files(tinydb: TinyDBDatabase) -> None:
    users, folder = populate(tinydb), tinydb.folder
    with tinydb.unit_of_work(users["alice"]["id"]) as uow:
        alice_threads = [c["id"] for c in uow.threads.page(users["alice"]["id"], limit=10, offset=0).items]
        assert uow.accounts.delete(users["alice"]["id"]) is True

    assert not (folder / "conversations" / f"{users['alice']['id']}.json").exists()
    assert all(not (folder / "historique" / f"{cid}.json").exists() for cid in alice_threads)
    assert (folder / "conversations" / f"{users['bob']['id']}.json").exists()
    assert len(list((folder / "historique").glob("*.json"))) == 1


@pytest.mark.parametrize("in_place", [False, True], ids=["editor-save", "in-place-rewrite"])
def test_hand_edit_of_users_json_is_seen_by_the_next_read(
    tinydb: TinyDBDatabase, alice: UserRecord, in_place: bool
) -> None:
    assert _account(tinydb, alice["id"])["role"] == "user"  # type: ignore[index]

    _promote_by_hand(tinydb.folder / "users.json", "alice@example.com", in_place=in_place)

    assert _account(tinydb, alice["id"])["role"] == "admin"  # type: ignore[index]
    assert get_user_by_email(tinydb, "alice@example.com")["role"] == "admin"  # type: ignore[index]


def test_invalid_hand_edit_keeps_last_good_copy_refuses_writes_and_is_never_overwritten(
    tinydb: TinyDBDatabase, alice: UserRecord
) -> None:
    users_json = tinydb.folder / "users.json"
    users_json.write_text('{"users": {"1": {"email": "alice@example.com", "role": "admin"', encoding="utf-8")
    broken = users_json.read_bytes()

    assert _account(tinydb, alice["id"]) == alice
    with pytest.raises(StorageUnavailable):
        add_users(tinydb, make_user("bob@example.com"))
    with pytest.raises(StorageUnavailable):
        set_role(tinydb, "alice@example.com", "admin")
    assert users_json.read_bytes() == broken

    users_json.write_text(json.dumps({"users": {"1": dict(alice, role="admin")}}), encoding="utf-8")
    add_users(tinydb, make_user("bob@example.com"))
    assert _account(tinydb, alice["id"])["role"] == "admin"  # type: ignore[index]
    with tinydb.unit_of_work(write=False) as uow:
        assert len(uow.accounts.all()) == 2


@pytest.mark.parametrize("in_place", [False, True], ids=["editor-save", "in-place-rewrite"])
def test_hand_edit_followed_by_a_server_write_keeps_the_edit(
    tinydb: TinyDBDatabase, alice: UserRecord, in_place: bool
) -> None:
    _promote_by_hand(tinydb.folder / "users.json", "alice@example.com", in_place=in_place)

    add_users(tinydb, make_user("bob@example.com"))

    on_disk = json.loads((tinydb.folder / "users.json").read_text())["users"].values()
    assert {u["email"]: u["role"] for u in on_disk} == {
        "alice@example.com": "admin",
        "bob@example.com": "user",
    }
    assert _account(tinydb, alice["id"])["role"] == "admin"  # type: ignore[index]


def test_import_into_a_non_empty_folder_raises_restore_error_and_changes_nothing(
    tinydb: TinyDBDatabase,
) -> None:
    populate(tinydb)
    exported = tinydb.export_dump()
    before = json_snapshot(tinydb.folder)

    with pytest.raises(RestoreError, match="not empty"):
        tinydb.import_dump(exported)
    assert json_snapshot(tinydb.folder) == before


def test_deleting_an_account_drops_its_lock_so_the_table_of_locks_does_not_grow(
    tinydb: TinyDBDatabase,
) -> None:
    users = [make_user(f"student{index}@example.com") for index in range(3)]
    add_users(tinydb, *users)
    for user in users:
        chat(tinydb, user["id"], "hello")

    for user in users:
        with tinydb.unit_of_work(user["id"]) as uow:
            assert uow.accounts.delete(user["id"]) is True

    assert not {user["id"] for user in users} & set(tinydb.threads._locks)
