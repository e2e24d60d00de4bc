"""TinyDB stored summaries: start-up reads no history file, and the one-time conversion of an older folder."""

from __future__ import annotations

import json
import logging
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from BackEnd.completion import Completion, Usage
from BackEnd.errors import DataFileCorrupt
from BackEnd.records import message_record
from BackEnd.storage import Database, TinyDBDatabase
from BackEnd.storage.journal import FileTransaction
from tests.utils.records import (
    add_users,
    as_layout_1,
    chat,
    damage_keeping_stamp,
    make_conversation,
    make_user,
)

EVERY_DAY = ("2000-01-01", "2999-12-31")


def answer(database: Database, user_id: str, conversation_id: str | None, tokens: int) -> str:
    """One turn stored as `services/chat.py` stores it: the answer and its count in one unit."""
    completion = Completion("ok", "a/one", "stop", Usage(tokens, tokens, 2 * tokens, 0.25))
    with database.unit_of_work(user_id) as unit:
        if conversation_id is None:
            thread = make_conversation(user_id)
            unit.threads.add(thread)
            conversation_id = thread["id"]
        turn = [
            message_record(user_id, conversation_id, "user", f"question {tokens}"),
            message_record(user_id, conversation_id, "assistant", f"answer {tokens}", completion=completion),
        ]
        stored = unit.threads.append(user_id, conversation_id, turn)
        assert stored is not None
        unit.usage.record(user_id, conversation_id, stored["updated_at"][:10], "a/one", completion.usage)
    return conversation_id


def build(folder: Path) -> list[str]:
    """Three accounts with kept, cleared and deleted threads; returns their ids."""
    database = TinyDBDatabase.open(folder)
    users = [make_user(f"user{n}@example.com") for n in range(3)]
    try:
        add_users(database, *users)
        ids = [user["id"] for user in users]
        kept = answer(database, ids[0], None, 1)
        answer(database, ids[0], kept, 2)
        gone, cleared = answer(database, ids[0], None, 10), answer(database, ids[1], None, 100)
        chat(database, ids[1], "plain thread")
        chat(database, ids[2], "bonjour ünïcödé")
        with database.unit_of_work() as unit:
            unit.threads.delete(ids[0], gone)
            unit.threads.clear(ids[1], cleared)
        answer(database, ids[1], cleared, 3)
    finally:
        database.close()
    return ids


def figures(database: Database, user_ids: list[str]) -> dict[str, Any]:
    """Everything start-up used to rebuild from the messages: lists, stats, usage, global views."""
    seen: dict[str, Any] = {}
    with database.unit_of_work(write=False) as unit:
        for user_id in user_ids:
            seen[user_id] = (
                unit.threads.page(user_id, limit=100, offset=0),
                unit.stats.of(user_id, since_day=EVERY_DAY[0]),
                unit.usage.lines(user_id, *EVERY_DAY),
            )
        seen["totals"] = unit.stats.totals(user_ids)
        seen["usage"] = unit.usage.totals(*EVERY_DAY)
        seen["tokens"] = unit.usage.total_tokens(user_ids)
    return seen


def opened_figures(folder: Path, user_ids: list[str]) -> dict[str, Any]:
    database = TinyDBDatabase.open(folder)
    try:
        return figures(database, user_ids)
    finally:
        database.close()


def parsed(folder: Path) -> dict[str, Any]:
    """Every JSON data file under `folder`, parsed (layouts on disk may differ in spacing), without
    the summaries' stamps: they name this folder's files (inode, size, mtime), not the content."""
    files = {
        str(path.relative_to(folder)): json.loads(path.read_bytes())
        for path in sorted(folder.rglob("*.json"))
    }
    for name, content in files.items():
        if name.startswith("conversations"):
            for record in content.get("conversations", {}).values():
                if isinstance(record.get("summary"), dict):
                    record["summary"].pop("file", None)
    return files


def test_start_up_of_a_converted_folder_reads_no_history_file(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    user_ids = build(data_dir)
    before = opened_figures(data_dir, user_ids)
    histories = sorted((data_dir / "historique").glob("*.json"))
    assert histories
    for path in histories:  # any read of one would log it damaged; its stamp still matches
        damage_keeping_stamp(path)

    with caplog.at_level(logging.INFO):
        assert opened_figures(data_dir, user_ids) == before
    assert "damaged" not in caplog.text and "rebuilt" not in caplog.text


def test_conversion_of_a_folder_without_summaries_gives_the_same_figures_and_logs_it(
    data_dir: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    user_ids = build(data_dir)
    before = opened_figures(data_dir, user_ids)
    stored = parsed(data_dir)
    as_layout_1(data_dir)
    assert not (data_dir / "layout.json").exists()

    with caplog.at_level(logging.INFO):
        assert opened_figures(data_dir, user_ids) == before

    assert parsed(data_dir) == stored  # the summaries a conversion writes are those turns kept
    assert json.loads((data_dir / "layout.json").read_text()) == {"version": 2}
    assert "converted data folder BDD: 4 threads, 10 messages in" in caplog.text
    printed = capsys.readouterr().err.splitlines()  # piped: the summary lines only, no live line
    assert [line.split(" in ")[0] for line in printed] == [
        "convert BDD: 4 threads",
        "convert BDD: 3 accounts",
    ]
    assert printed[0].endswith("; 10 messages read and checked") and "\r" not in "".join(printed)
    database = TinyDBDatabase.open(data_dir)
    try:
        assert all("summary" not in thread for thread in database.export_dump().conversations)
    finally:
        database.close()


def test_a_crash_in_the_middle_of_a_conversion_then_a_restart_converts_to_the_same_result(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_ids = build(data_dir)
    before = opened_figures(data_dir, user_ids)
    as_layout_1(data_dir)
    calm = tmp_path / "calm"
    shutil.copytree(data_dir, calm)
    opened_figures(calm, user_ids)
    commit = FileTransaction.commit
    commits: list[Path] = []

    def crash_after_the_first_account(transaction: FileTransaction) -> Any:
        if commits:
            raise KeyboardInterrupt("killed")  # what kill -9 leaves: one account converted, no marker
        commits.append(transaction.root)
        return commit(transaction)

    monkeypatch.setattr(FileTransaction, "commit", crash_after_the_first_account)
    with pytest.raises(KeyboardInterrupt):
        TinyDBDatabase.open(data_dir)
    monkeypatch.undo()
    assert commits and not (data_dir / "layout.json").exists()

    assert opened_figures(data_dir, user_ids) == before
    assert parsed(data_dir) == parsed(calm)
    (data_dir / "layout.json").unlink()  # converting a converted folder again counts nothing twice
    assert opened_figures(data_dir, user_ids) == before
    assert parsed(data_dir) == parsed(calm)


_CONVERT_THEN_DIE = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from BackEnd.storage import TinyDBDatabase
    from BackEnd.storage.journal import FileTransaction

    commit = FileTransaction.commit

    def commit_then_die(transaction):
        done = commit(transaction)
        os.kill(os.getpid(), signal.SIGKILL)  # the first account's summaries are durable, no marker
        return done

    FileTransaction.commit = commit_then_die
    TinyDBDatabase.open(Path(sys.argv[1]))
    """
)


def test_kill_9_in_the_middle_of_a_conversion_then_a_restart_converts_to_the_same_result(
    data_dir: Path, tmp_path: Path
) -> None:
    user_ids = build(data_dir)
    before = opened_figures(data_dir, user_ids)
    as_layout_1(data_dir)
    calm = tmp_path / "calm"
    shutil.copytree(data_dir, calm)
    opened_figures(calm, user_ids)
    root = Path(__file__).resolve().parents[2]

    killed = subprocess.run(
        [sys.executable, "-c", _CONVERT_THEN_DIE, str(data_dir)], cwd=root, capture_output=True, check=False
    )

    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (data_dir / "layout.json").exists()
    assert parsed(data_dir) != parsed(calm)  # one account converted, the others not yet
    assert opened_figures(data_dir, user_ids) == before
    assert parsed(data_dir) == parsed(calm)


def test_figures_stay_right_after_turns_deletes_account_deletion_and_restart(data_dir: Path) -> None:
    user_ids = build(data_dir)
    database = TinyDBDatabase.open(data_dir)
    try:
        extra = answer(database, user_ids[2], None, 7)
        answer(database, user_ids[2], extra, 8)
        with database.unit_of_work() as unit:
            unit.threads.clear(user_ids[2], extra)
            unit.accounts.delete(user_ids[1])
        answer(database, user_ids[2], extra, 9)
        with database.unit_of_work() as unit:
            unit.threads.delete_all(user_ids[0])
        live = figures(database, user_ids)
    finally:
        database.close()
    assert live["tokens"] == {user_ids[0]: 26, user_ids[1]: 0, user_ids[2]: 48}

    assert opened_figures(data_dir, user_ids) == live
    stored = parsed(data_dir)
    as_layout_1(data_dir)  # what every message says, read again, is what the turns stored
    assert opened_figures(data_dir, user_ids) == live
    assert parsed(data_dir) == stored


def test_a_new_folder_starts_converted_and_a_newer_layout_is_refused(data_dir: Path) -> None:
    TinyDBDatabase.open(data_dir).close()
    assert json.loads((data_dir / "layout.json").read_text()) == {"version": 2}
    (data_dir / "layout.json").write_text('{"version": 3}')
    with pytest.raises(Exception, match="newer AssistantIA"):
        TinyDBDatabase.open(data_dir)


def test_a_damaged_stored_summary_stops_start_up_naming_its_file(data_dir: Path) -> None:
    user_ids = build(data_dir)
    path = data_dir / "conversations" / f"{user_ids[2]}.json"
    path.write_text(path.read_text().replace('"count": 2', '"count": "two"'))
    before = path.read_bytes()

    with pytest.raises(DataFileCorrupt, match=f"{path.name}.*summary has no valid 'count'"):
        TinyDBDatabase.open(data_dir)
    assert path.read_bytes() == before
