"""A committed change whose last steps failed is finished before any later change to the same files."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from BackEnd.storage import TinyDBDatabase, journal
from tests.utils.disk import reopened
from tests.utils.records import add_users, chat, make_turn, make_user


def test_a_turn_waiting_for_the_lock_is_not_overwritten_when_an_older_journal_is_finished(
    tinydb: TinyDBDatabase, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    add_users(tinydb, alice, bob)
    thread = chat(tinydb, alice["id"], "first")["id"]

    # The folder sync right after the first turn's commit point fails once (EIO): that turn
    # stands, and its journal is left for later units to finish.
    real_fsync_dir = journal.fsync_dir
    failures: list[Path] = []

    def fsync_dir_fails_once_for_the_first(folder: Path) -> None:
        if not failures and threading.current_thread().name == "first":
            failures.append(folder)
            raise OSError(5, "Input/output error")
        real_fsync_dir(folder)

    monkeypatch.setattr(journal, "fsync_dir", fsync_dir_fails_once_for_the_first)
    # The second turn signals once it asks for alice's lock: it is then past the unit's start.
    second_waits = threading.Event()
    real_lock = tinydb.threads.lock

    def lock(user_id: str) -> threading.Lock:
        if threading.current_thread().name == "second":
            second_waits.set()
        return real_lock(user_id)

    monkeypatch.setattr(tinydb.threads, "lock", lock)
    errors: list[BaseException] = []

    def turn(text: str) -> None:
        try:
            with tinydb.unit_of_work(alice["id"]) as uow:
                assert (
                    uow.threads.append(alice["id"], thread, make_turn(alice["id"], thread, text)) is not None
                )
                if text == "first turn":
                    second.start()
                    assert second_waits.wait(timeout=10)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    second = threading.Thread(target=turn, args=("second turn",), name="second")
    first = threading.Thread(target=turn, args=("first turn",), name="first")
    first.start()
    first.join(timeout=30)
    second.join(timeout=30)
    assert errors == [] and failures, errors  # both turns acknowledged, the first with its journal left
    with tinydb.unit_of_work(bob["id"], write=False):
        pass  # any later unit finishes what is left

    tinydb.close()
    stored = [m["content"] for m in reopened(data_dir).messages]
    assert stored[-4:] == ["first turn", "echo: first turn", "second turn", "echo: second turn"], stored
