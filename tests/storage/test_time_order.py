"""Storage stamps times on every backend: history order is time order, `updated_at` never behind it."""

from __future__ import annotations

import pytest

from BackEnd.records import MessageRecord, UserRecord, conversation_record, message_record
from BackEnd.storage import Database, Dump
from tests.utils.races import assert_stamps_follow_commit_order, race_renames_and_turns
from tests.utils.records import add_users, chat, make_turn, make_user

# As if written by a server whose clock ran far ahead, then restored from its dump.
AHEAD = "2999-01-01T00:00:00.000000Z"
LONG_AGO = "1999-01-01T00:00:00.000000Z"


@pytest.fixture
def alice(db: Database) -> UserRecord:
    user = make_user("alice@example.com")
    add_users(db, user)
    return user


def _history(db: Database, user_id: str, conversation_id: str) -> list[MessageRecord]:
    with db.unit_of_work(user_id, write=False) as uow:
        page = uow.threads.messages(user_id, conversation_id, limit=1000, offset=0)
    assert page is not None
    return page.items


def test_append_stamps_each_message_after_the_last_whatever_time_the_caller_gave(
    db: Database, alice: UserRecord
) -> None:
    thread = chat(db, alice["id"], "one")
    turn = make_turn(alice["id"], thread["id"], "two") + make_turn(alice["id"], thread["id"], "three")
    for message in turn:
        message["created_at"] = LONG_AGO

    with db.unit_of_work(alice["id"]) as uow:
        appended = uow.threads.append(alice["id"], thread["id"], turn)

    history = _history(db, alice["id"], thread["id"])
    times = [m["created_at"] for m in history]
    assert [m["content"] for m in history][2:] == ["two", "echo: two", "three", "echo: three"]
    assert times == sorted(set(times)) and times[0] > thread["created_at"]
    assert appended is not None and appended["updated_at"] == times[-1]
    assert times[2] > thread["updated_at"]


def test_rename_stamps_updated_at_after_the_last_message_and_the_next_turn_after_that(
    db: Database, alice: UserRecord
) -> None:
    thread = chat(db, alice["id"], "one")

    with db.unit_of_work(alice["id"]) as uow:
        renamed = uow.threads.rename(alice["id"], thread["id"], "renamed")
    after = chat(db, alice["id"], "two", thread["id"])

    times = [m["created_at"] for m in _history(db, alice["id"], thread["id"])]
    assert renamed is not None and times[1] == thread["updated_at"] < renamed["updated_at"] < times[2]
    assert after["updated_at"] == times[-1] and after["title"] == "renamed"


def test_a_thread_restored_with_times_ahead_of_the_clock_gets_later_times_still(db: Database) -> None:
    alice = make_user("alice@example.com")
    thread = conversation_record(alice["id"], "from the future", at=AHEAD)
    message = message_record(alice["id"], thread["id"], "user", "restored")
    message["created_at"] = AHEAD
    db.import_dump(Dump(users=[alice], conversations=[thread], messages=[message]))

    with db.unit_of_work(alice["id"]) as uow:
        renamed = uow.threads.rename(alice["id"], thread["id"], "renamed")
    stored = chat(db, alice["id"], "next", thread["id"])

    history = _history(db, alice["id"], thread["id"])
    times = [m["created_at"] for m in history]
    assert [m["content"] for m in history] == ["restored", "next", "echo: next"]
    assert renamed is not None and AHEAD < renamed["updated_at"] < times[1]
    assert times == sorted(set(times)) and stored["updated_at"] == times[-1]


def test_renames_racing_turns_on_one_thread_never_leave_updated_at_behind(
    db: Database, alice: UserRecord
) -> None:
    thread = chat(db, alice["id"], "start")

    outcome = race_renames_and_turns([db], alice["id"], thread["id"], workers=3, rounds=20)

    assert_stamps_follow_commit_order(db, alice["id"], thread["id"], outcome)
