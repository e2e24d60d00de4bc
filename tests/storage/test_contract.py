"""The storage contract (base.py) on every backend: same records, order, totals and cascades."""

from __future__ import annotations

import contextlib

import pytest

from BackEnd.errors import EmailAlreadyRegistered, NotFoundError
from BackEnd.records import UserRecord
from BackEnd.storage import Database, Page
from tests.utils.records import add_users, chat, make_conversation, make_user, populate, stored_state


@pytest.fixture
def alice(db: Database) -> UserRecord:
    user = make_user("alice@example.com")
    add_users(db, user)
    return user


def test_accounts_add_get_list_set_role_refuse_taken_email_and_delete(db: Database) -> None:
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    with db.unit_of_work() as uow:
        uow.accounts.add(alice)
        uow.accounts.add(bob)

    with db.unit_of_work(write=False) as uow:
        assert uow.accounts.get(alice["id"]) == alice
        assert uow.accounts.get_by_email("bob@example.com") == bob
        assert uow.accounts.get("usr_missing") is None
        assert uow.accounts.get_by_email("nobody@example.com") is None
        assert [user["id"] for user in uow.accounts.all()] == [alice["id"], bob["id"]]

    with db.unit_of_work() as uow:
        assert uow.accounts.set_role("alice@example.com", "admin")["role"] == "admin"  # type: ignore[index]
        assert uow.accounts.set_role("nobody@example.com", "admin") is None
    with db.unit_of_work(write=False) as uow:
        assert uow.accounts.get(alice["id"])["role"] == "admin"  # type: ignore[index]

    with pytest.raises(EmailAlreadyRegistered), db.unit_of_work() as uow:
        uow.accounts.add(make_user("bob@example.com"))
    with db.unit_of_work(alice["id"]) as uow:
        assert uow.accounts.get_by_email("bob@example.com") == bob
        assert uow.accounts.delete(alice["id"]) is True
    with db.unit_of_work(alice["id"]) as uow:
        assert uow.accounts.delete(alice["id"]) is False
    with db.unit_of_work(write=False) as uow:
        assert uow.accounts.get(alice["id"]) is None
        assert uow.accounts.get_by_email("alice@example.com") is None
        assert [user["id"] for user in uow.accounts.all()] == [bob["id"]]


def test_threads_are_newest_first_renamable_deletable_and_scoped_to_their_owner(db: Database) -> None:
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    add_users(db, alice, bob)
    older, newer = make_conversation(alice["id"], "older"), make_conversation(alice["id"], "newer")
    with db.unit_of_work(alice["id"]) as uow:
        uow.threads.add(older)
        uow.threads.add(newer)

    with db.unit_of_work(alice["id"]) as uow:
        page = uow.threads.page(alice["id"], limit=10, offset=0)
        assert [c["id"] for c in page.items] == [newer["id"], older["id"]] and page.total == 2
        assert page.items[1] == older
        assert [c["id"] for c in uow.threads.page(alice["id"], limit=1, offset=1).items] == [older["id"]]
        renamed = uow.threads.rename(alice["id"], older["id"], "renamed")
    assert renamed is not None
    assert renamed == {**older, "title": "renamed", "updated_at": renamed["updated_at"]}
    assert renamed["updated_at"] > newer["updated_at"]
    with db.unit_of_work(alice["id"], write=False) as uow:
        assert uow.threads.get(alice["id"], older["id"]) == renamed
        assert uow.threads.page(alice["id"], limit=10, offset=0).items[0]["id"] == older["id"]

    with db.unit_of_work(bob["id"]) as uow:
        assert uow.threads.get(bob["id"], older["id"]) is None
        assert uow.threads.rename(bob["id"], older["id"], "x") is None
        assert uow.threads.delete(bob["id"], older["id"]) is False
        assert uow.threads.messages(bob["id"], older["id"], limit=10, offset=0) is None
        assert uow.threads.page(bob["id"], limit=10, offset=0).total == 0

    with db.unit_of_work(alice["id"]) as uow:
        assert uow.threads.delete(alice["id"], older["id"]) is True
        assert uow.threads.delete(alice["id"], older["id"]) is False
    with db.unit_of_work(alice["id"], write=False) as uow:
        assert uow.threads.get(alice["id"], older["id"]) is None
        assert uow.threads.get(alice["id"], newer["id"]) == newer


def test_adding_a_thread_for_a_vanished_account_stores_nothing(db: Database) -> None:
    before = stored_state(db)  # TinyDB: every file's bytes, so not even an orphan file appears

    # Callers check the account first; one deleted meanwhile may be reported as not found.
    with contextlib.suppress(NotFoundError), db.unit_of_work("usr_deleted") as uow:
        uow.threads.add(make_conversation("usr_deleted"))

    assert stored_state(db) == before and db.export_dump().conversations == []


def test_append_stores_the_turn_in_order_and_moves_updated_at_to_its_last_message(
    db: Database, alice: UserRecord
) -> None:
    thread = chat(db, alice["id"], "one")
    second = chat(db, alice["id"], "two", thread["id"])

    with db.unit_of_work(alice["id"], write=False) as uow:
        page = uow.threads.messages(alice["id"], thread["id"], limit=10, offset=0)
        stored_thread = uow.threads.get(alice["id"], thread["id"])
        middle = uow.threads.messages(alice["id"], thread["id"], limit=2, offset=1)
    assert page is not None and page.total == 4
    assert [m["content"] for m in page.items] == ["one", "echo: one", "two", "echo: two"]
    times = [m["created_at"] for m in page.items]
    assert times == sorted(set(times)) and times[0] > thread["created_at"]
    assert second["updated_at"] == times[-1] == stored_thread["updated_at"]  # type: ignore[index]
    assert set(page.items[0]) == {
        *("id", "conversation_id", "user_id", "role", "content", "created_at"),
        *("model", "finish_reason", "usage", "images", "reply_to", "edited_at"),
    }
    assert middle is not None and [m["content"] for m in middle.items] == ["echo: one", "two"]


def test_recent_returns_the_last_messages_and_none_for_an_unknown_thread(
    db: Database, alice: UserRecord
) -> None:
    thread = chat(db, alice["id"], "one")
    chat(db, alice["id"], "two", thread["id"])

    with db.unit_of_work(alice["id"], write=False) as uow:
        none = uow.threads.recent(alice["id"], thread["id"], 0)
        last_three = uow.threads.recent(alice["id"], thread["id"], 3)
        assert uow.threads.recent(alice["id"], "conv_unknown", 3) is None
    assert none is not None and none.items == [] and none.total == 4
    assert last_three is not None and last_three.total == 4
    assert [m["content"] for m in last_three.items] == ["echo: one", "two", "echo: two"]


def test_clear_keeps_the_thread_and_is_scoped_to_its_owner(db: Database) -> None:
    users = populate(db)
    alice, bob = users["alice"]["id"], users["bob"]["id"]
    with db.unit_of_work(alice, write=False) as uow:
        thread = uow.threads.page(alice, limit=10, offset=0).items[0]

    with db.unit_of_work(bob) as uow:
        assert uow.threads.clear(bob, thread["id"]) is False
    with db.unit_of_work(alice) as uow:
        kept = uow.threads.messages(alice, thread["id"], limit=10, offset=0)
        assert kept is not None and kept.total == 2
        assert uow.threads.clear(alice, thread["id"]) is True
    with db.unit_of_work(alice, write=False) as uow:
        assert uow.threads.messages(alice, thread["id"], limit=10, offset=0) == Page(items=[], total=0)
        assert uow.threads.get(alice, thread["id"]) == {**thread, "message_count": 0, "preview": None}


def test_delete_all_removes_only_the_owners_threads_and_their_messages(db: Database) -> None:
    users = populate(db)
    alice, bob = users["alice"]["id"], users["bob"]["id"]

    with db.unit_of_work(alice) as uow:
        assert uow.threads.delete_all(alice) == 2
    with db.unit_of_work(alice) as uow:
        assert uow.threads.delete_all(alice) == 0

    dump = db.export_dump()
    assert {c["user_id"] for c in dump.conversations} == {bob}
    assert {m["user_id"] for m in dump.messages} == {bob} and len(dump.messages) == 2
    assert len(dump.users) == 2


def test_deleting_an_account_cascades_to_its_threads_and_messages_only(db: Database) -> None:
    users = populate(db)

    with db.unit_of_work(users["alice"]["id"]) as uow:
        assert uow.accounts.delete(users["alice"]["id"]) is True

    dump = db.export_dump()
    assert [u["id"] for u in dump.users] == [users["bob"]["id"]]
    assert (
        {c["user_id"] for c in dump.conversations}
        == {m["user_id"] for m in dump.messages}
        == {users["bob"]["id"]}
    )
    assert len(dump.conversations) == 1 and len(dump.messages) == 2


def test_messages_read_are_copies_so_changing_them_changes_nothing_stored(
    db: Database, alice: UserRecord
) -> None:
    thread = chat(db, alice["id"], "original")
    with db.unit_of_work(alice["id"], write=False) as uow:
        page = uow.threads.messages(alice["id"], thread["id"], limit=10, offset=0)
        recent = uow.threads.recent(alice["id"], thread["id"], 1)
    assert page is not None and recent is not None
    page.items[0]["content"] = "tampered"
    recent.items[0]["content"] = "tampered too"
    dumped = db.export_dump().messages
    dumped[0]["content"] = "tampered in the dump"

    with db.unit_of_work(alice["id"], write=False) as uow:
        again = uow.threads.messages(alice["id"], thread["id"], limit=10, offset=0)
    assert again is not None and [m["content"] for m in again.items] == ["original", "echo: original"]


def test_messages_pages_in_time_order_with_the_total(db: Database, alice: UserRecord) -> None:
    thread = chat(db, alice["id"], "m0")
    for index in range(1, 5):
        chat(db, alice["id"], f"m{index}", thread["id"])

    with db.unit_of_work(alice["id"], write=False) as uow:
        page = uow.threads.messages(alice["id"], thread["id"], limit=3, offset=4)
    assert page is not None and page.total == 10
    assert [m["content"] for m in page.items] == ["m2", "echo: m2", "m3"]
    stamps = [m["created_at"] for m in page.items]
    assert stamps == sorted(stamps)


def test_every_page_of_a_thread_is_the_same_read_from_either_end(db: Database, alice: UserRecord) -> None:
    # SQL reads pages past the middle from the end of the thread's index: the same pages.
    thread = chat(db, alice["id"], "m0")
    for index in range(1, 7):
        chat(db, alice["id"], f"m{index}", thread["id"])
    with db.unit_of_work(alice["id"], write=False) as uow:
        whole = uow.threads.messages(alice["id"], thread["id"], limit=100, offset=0)
        assert whole is not None and whole.total == 14
        contents = [m["content"] for m in whole.items]
        for limit in (1, 3, 5, 14, 20):
            for offset in range(0, 17):
                page = uow.threads.messages(alice["id"], thread["id"], limit=limit, offset=offset)
                assert page is not None and page.total == 14
                assert [m["content"] for m in page.items] == contents[offset : offset + limit], (
                    limit,
                    offset,
                )
        recent = uow.threads.recent(alice["id"], thread["id"], 3)
        assert recent is not None and recent.total == 14
        assert [m["content"] for m in recent.items] == contents[-3:]
        assert uow.threads.message_count(alice["id"], thread["id"]) == 14
        assert uow.threads.message_count(alice["id"], "conv_unknown") == 0
