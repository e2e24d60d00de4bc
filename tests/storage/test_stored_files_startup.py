"""TinyDB start-up: image files a crash left behind (no message names them) are removed at conversion."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from BackEnd.records import new_id
from BackEnd.storage import TinyDBDatabase
from tests.storage.test_stored_files import turn_with_image
from tests.utils.images import PNG
from tests.utils.records import add_users, as_layout_1, make_user


def test_conversion_removes_orphans_and_start_up_temp_files_and_keeps_named_files(data_dir: Path) -> None:
    database = TinyDBDatabase.open(data_dir)
    alice = make_user("alice@example.com")
    add_users(database, alice)
    conversation_id, kept = turn_with_image(database, alice["id"])
    database.close()
    files = data_dir / "files"
    # What a crash leaves: a complete file whose message never committed, and a half-written temp.
    orphan = files / f"{alice['id']}.{conversation_id}.{new_id('msg')}.{new_id('file')}.png"
    orphan.write_bytes(PNG)
    temp = files / f".{orphan.name}.abc.tmp"
    temp.write_bytes(PNG[:4])
    stranger = files / "README.txt"  # not ours by its name: left alone
    stranger.write_text("hand-made")
    # Only a conversion reads every message, so only it knows which image none names.
    as_layout_1(data_dir)

    reopened = TinyDBDatabase.open(data_dir)
    try:
        assert not orphan.exists() and not temp.exists() and stranger.exists()
        with reopened.unit_of_work(write=False) as unit:
            assert unit.stored_files.get(alice["id"], kept.id) == kept
    finally:
        reopened.close()


def test_a_crash_after_the_commit_point_keeps_the_file_with_its_message(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = TinyDBDatabase.open(data_dir)
    alice = make_user("alice@example.com")
    add_users(database, alice)

    def crash(root: Path, journal: Path) -> None:  # the process dies once the journal is durable
        raise OSError(5, "simulated crash")

    monkeypatch.setattr("BackEnd.storage.journal.finish_journal", crash)
    _, file = turn_with_image(database, alice["id"])
    assert list(data_dir.glob(".journal-*"))  # committed, not yet carried out
    monkeypatch.undo()
    database.close()

    reopened = TinyDBDatabase.open(data_dir)  # replays the journal: message and file both there
    try:
        with reopened.unit_of_work(write=False) as unit:
            assert unit.stored_files.get(alice["id"], file.id) == file
    finally:
        reopened.close()


_TURN_THEN_HANG = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from BackEnd.storage import TinyDBDatabase
    from tests.storage.test_stored_files import turn_with_image
    from tests.utils.records import add_users, make_user
    database = TinyDBDatabase.open(Path(sys.argv[1]))
    alice = make_user("alice@example.com")
    add_users(database, alice)
    turn_with_image(database, alice["id"])
    print(alice["id"], flush=True)
    time.sleep(60)
    """
)


def test_kill_9_after_a_committed_turn_keeps_its_file_and_nothing_else(data_dir: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-c", _TURN_THEN_HANG, str(data_dir)], cwd=root, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        user_id = child.stdout.readline().strip()
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    database = TinyDBDatabase.open(data_dir)
    try:
        files = list((data_dir / "files").iterdir())
        assert len(files) == 1 and files[0].name.startswith(user_id)
        assert not list(data_dir.glob(".journal-*"))
    finally:
        database.close()
