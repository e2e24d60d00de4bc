"""A write the SQL database refuses: 404 only when a referenced row went, a 503 for anything else."""

from __future__ import annotations

import pytest

from BackEnd.errors import EmailAlreadyRegistered, NotFoundError, StorageUnavailable
from BackEnd.storage.sql import SQLDatabase
from tests.utils.records import add_users, make_conversation, make_user

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgresql"])


def test_a_conversation_whose_id_is_taken_is_refused_not_reported_stored(db: SQLDatabase) -> None:
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    add_users(db, alice, bob)
    taken = make_conversation(alice["id"], "first")
    with db.unit_of_work(alice["id"]) as unit:
        unit.threads.add(taken)

    # Once a silent success (201 for a row never stored); an id collision is a fault, not a 404.
    with pytest.raises(StorageUnavailable, match="refused a write"):
        with db.unit_of_work(bob["id"]) as unit:
            unit.threads.add({**make_conversation(bob["id"], "second"), "id": taken["id"]})

    dump = db.export_dump()
    assert [(c["id"], c["user_id"], c["title"]) for c in dump.conversations] == [
        (taken["id"], alice["id"], "first")
    ]


def test_a_conversation_of_a_deleted_account_is_not_found(db: SQLDatabase) -> None:
    with pytest.raises(NotFoundError):
        with db.unit_of_work("usr_gone") as unit:
            unit.threads.add(make_conversation("usr_gone"))
    assert db.export_dump().conversations == []


def test_an_account_whose_id_is_taken_is_a_fault_and_a_taken_email_a_conflict(db: SQLDatabase) -> None:
    alice = make_user("alice@example.com")
    add_users(db, alice)

    with pytest.raises(StorageUnavailable):  # not "email taken": the email is free
        with db.unit_of_work() as unit:
            unit.accounts.add({**make_user("carol@example.com"), "id": alice["id"]})
    with pytest.raises(EmailAlreadyRegistered):
        with db.unit_of_work() as unit:
            unit.accounts.add(make_user("alice@example.com"))

    assert [user["email"] for user in db.export_dump().users] == ["alice@example.com"]
