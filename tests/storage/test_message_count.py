"""Threads.message_count on every backend: the thread's size, and 0 for anyone else's thread."""

from __future__ import annotations

from BackEnd.storage import Database
from tests.utils.records import add_users, chat, make_user


def test_message_count_is_the_threads_size_and_zero_for_another_users_or_unknown_thread(db: Database) -> None:
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    add_users(db, alice, bob)
    thread = chat(db, alice["id"], "one")["id"]
    chat(db, alice["id"], "two", thread)
    chat(db, bob["id"], "bob's own")

    with db.unit_of_work(alice["id"], write=False) as unit:
        assert unit.threads.message_count(alice["id"], thread) == 4
        assert unit.threads.message_count(alice["id"], "conv_unknown") == 0
    with db.unit_of_work(bob["id"], write=False) as unit:
        assert unit.threads.message_count(bob["id"], thread) == 0  # alice's thread: not bob's
