"""TinyDB thread summaries stored lazily: a turn writes its history file alone, a flush stores them stamped."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from BackEnd.errors import ThreadDamaged
from BackEnd.storage import TinyDBDatabase, files, journal, summary_flush
from BackEnd.storage.files import file_signature
from BackEnd.storage.summary_flush import history_stamp
from tests.storage.test_tinydb_conversion import answer, build, figures, opened_figures
from tests.utils.records import add_users, chat, make_conversation, make_user, stored_summaries


def _history(folder: Path, conversation_id: str) -> Path:
    return folder / "historique" / f"{conversation_id}.json"


def test_a_turn_writes_its_history_file_alone_and_the_flush_stores_the_summary_stamped(
    data_dir: Path,
) -> None:
    database = TinyDBDatabase.open(data_dir)
    try:
        user = make_user("alice@example.com")
        add_users(database, user)
        thread = chat(database, user["id"], "bonjour")["id"]
        database.flush_summaries()
        conversations = data_dir / "conversations" / f"{user['id']}.json"
        before = (file_signature(conversations), conversations.read_bytes())

        chat(database, user["id"], "encore", thread)
        answer(database, user["id"], thread, 5)

        assert (file_signature(conversations), conversations.read_bytes()) == before  # not rewritten
        assert stored_summaries(data_dir)[thread]["count"] == 2  # the last flush's figures
        database.flush_summaries()
        stored = stored_summaries(data_dir)[thread]
        assert stored["count"] == 6  # three turns of two messages
        assert stored["file"] == list(history_stamp(_history(data_dir, thread)) or ())
        assert stored["usage"] and stored["usage"][0]["total_tokens"] == 10
    finally:
        database.close()


def test_close_stores_the_summaries_still_in_memory(data_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    user_ids = build(data_dir)  # build() closes the database after its turns
    for conversation_id, stored in stored_summaries(data_dir).items():
        assert stored["file"] == list(history_stamp(_history(data_dir, conversation_id)) or ()) or (
            stored["file"] is None and not _history(data_dir, conversation_id).exists()
        )
    before = opened_figures(data_dir, user_ids)

    with caplog.at_level(logging.INFO):
        assert opened_figures(data_dir, user_ids) == before
    assert "rebuilt" not in caplog.text  # every stamp matched: no history file was read


def test_a_hand_edited_history_file_gets_its_summary_rebuilt_at_start_up(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = TinyDBDatabase.open(data_dir)
    user = make_user("alice@example.com")
    try:
        add_users(database, user)
        thread = chat(database, user["id"], "bonjour")["id"]
        chat(database, user["id"], "encore", thread)
    finally:
        database.close()
    history = _history(data_dir, thread)
    tables = json.loads(history.read_text(encoding="utf-8"))
    kept = dict(list(tables["messages"].items())[:2])  # the second turn removed by hand
    history.write_text(json.dumps({"messages": kept}), encoding="utf-8")

    with caplog.at_level(logging.INFO):
        database = TinyDBDatabase.open(data_dir)
    try:
        assert "rebuilt 1 thread summaries" in caplog.text
        page = figures(database, [user["id"]])[user["id"]][0]
        assert page.items[0]["message_count"] == 2
        assert page.items[0]["preview"] is not None and "encore" not in page.items[0]["preview"]
        stored = stored_summaries(data_dir)[thread]  # stored again at start-up, stamped
        assert stored["count"] == 2 and stored["file"] == list(history_stamp(history) or ())
    finally:
        database.close()


def test_a_damaged_history_file_whose_stamp_changed_is_logged_and_served_as_damaged(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = TinyDBDatabase.open(data_dir)
    user = make_user("alice@example.com")
    try:
        add_users(database, user)
        damaged = chat(database, user["id"], "bonjour")["id"]
        healthy = chat(database, user["id"], "salut")["id"]
    finally:
        database.close()
    _history(data_dir, damaged).write_bytes(b"{damaged")
    stored_before = stored_summaries(data_dir)[damaged]

    with caplog.at_level(logging.INFO):
        database = TinyDBDatabase.open(data_dir)  # one damaged thread does not stop the others
    try:
        assert _history(data_dir, damaged).name in caplog.text
        with database.unit_of_work(user["id"]) as unit:
            assert unit.threads.messages(user["id"], healthy, limit=10, offset=0) is not None
        with pytest.raises(ThreadDamaged), database.unit_of_work(user["id"]) as unit:
            unit.threads.messages(user["id"], damaged, limit=10, offset=0)
    finally:
        database.close()
    assert stored_summaries(data_dir)[damaged] == stored_before  # kept, tried again next start-up


def test_a_thread_without_messages_needs_no_summary_and_no_rebuild(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = TinyDBDatabase.open(data_dir)
    user = make_user("alice@example.com")
    try:
        add_users(database, user)
        with database.unit_of_work(user["id"]) as unit:
            unit.threads.add(make_conversation(user["id"], "vide"))
    finally:
        database.close()
    conversations = data_dir / "conversations" / f"{user['id']}.json"
    before = conversations.read_bytes()

    with caplog.at_level(logging.INFO):
        TinyDBDatabase.open(data_dir).close()
    assert "rebuilt" not in caplog.text
    assert conversations.read_bytes() == before and stored_summaries(data_dir) == {}


def test_the_background_flusher_stores_a_turns_summary_without_being_asked(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(summary_flush, "FLUSH_SECONDS", 0.01)
    database = TinyDBDatabase.open(data_dir)
    try:
        user = make_user("alice@example.com")
        add_users(database, user)
        thread = chat(database, user["id"], "bonjour")["id"]
        chat(database, user["id"], "encore", thread)
        for _ in range(1000):  # waits for the flusher's thread, not for a duration
            if stored_summaries(data_dir).get(thread, {}).get("count") == 4:
                break
            threading.Event().wait(0.01)
        stored = stored_summaries(data_dir)[thread]
        assert stored["count"] == 4
        assert stored["file"] == list(history_stamp(_history(data_dir, thread)) or ())
    finally:
        database.close()


def test_a_flush_the_disk_refuses_keeps_the_owner_dirty_and_the_next_one_stores_it(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    database = TinyDBDatabase.open(data_dir)
    try:
        user = make_user("alice@example.com")
        add_users(database, user)
        thread = chat(database, user["id"], "bonjour")["id"]
        database.flush_summaries()
        chat(database, user["id"], "encore", thread)
        real_replace = files.os.replace

        def disk_full(source: str, target: str) -> None:
            if "conversations" in str(target):
                raise OSError(errno.ENOSPC, "No space left on device")
            real_replace(source, target)

        monkeypatch.setattr(files.os, "replace", disk_full)
        monkeypatch.setattr(journal.os, "replace", disk_full)
        with caplog.at_level(logging.INFO):
            database.flush_summaries()
        assert "No space left on device" in caplog.text
        assert stored_summaries(data_dir)[thread]["count"] == 2
        assert user["id"] in database.threads.dirty
        assert not list((data_dir / "conversations").glob("*.tmp"))  # the refused write left nothing

        monkeypatch.undo()
        database.flush_summaries()
        assert stored_summaries(data_dir)[thread]["count"] == 4
        with database.unit_of_work(user["id"], write=False) as unit:  # the cached table is still right
            found = unit.threads.get(user["id"], thread)
        assert found is not None and found["message_count"] == 4
    finally:
        database.close()


def test_the_periodic_flush_waits_for_a_file_written_a_moment_ago(data_dir: Path) -> None:
    database = TinyDBDatabase.open(data_dir)
    try:
        user = make_user("alice@example.com")
        add_users(database, user)
        thread = chat(database, user["id"], "bonjour")["id"]
        history = _history(data_dir, thread)
        now = time.time_ns()
        os.utime(history, ns=(now, now))  # written "just now", whatever the test machine's speed

        database.flush_summaries(wait_quiet=True)  # what each background round does
        assert thread not in stored_summaries(data_dir)  # its mtime could still be shared by a write
        assert thread in database.threads.dirty[user["id"]]

        database.flush_summaries()  # close() and start-up stamp every file
        assert stored_summaries(data_dir)[thread]["file"] == list(history_stamp(history) or ())
    finally:
        database.close()


def test_a_copy_of_the_folder_that_keeps_times_starts_without_rebuilding(
    data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    user_ids = build(data_dir)
    before = opened_figures(data_dir, user_ids)
    copy = tmp_path / "copy"
    shutil.copytree(data_dir, copy)  # new inodes, same sizes and mtimes (as `cp -a`)

    with caplog.at_level(logging.INFO):
        assert opened_figures(copy, user_ids) == before
    assert "rebuilt" not in caplog.text
