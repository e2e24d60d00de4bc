"""A thread's file patched in place: the same bytes as a rewrite, and a crash at any step of a patch recovers."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from BackEnd.records import message_record
from BackEnd.storage import file_patch, journal
from BackEnd.storage.journal import FileTransaction, check_journals, recover
from BackEnd.storage.record_file import RecordFile
from BackEnd.storage.record_layout import read_lines


class Crash(BaseException):
    """The process dies here: nothing after this step runs."""


def _messages(count: int, text: str = "message") -> list[dict[str, Any]]:
    return [message_record("usr_a", "conv_a", "user", f"{text} {i} é") for i in range(count)]


def _history(folder: Path) -> RecordFile:
    return RecordFile(folder / "historique" / "conv_a.json", "messages", patch_from_bytes=0)


def _commit(folder: Path, change: Callable[[RecordFile], None], table: RecordFile) -> None:
    transaction = FileTransaction(folder)
    with transaction.activate():
        change(table)
    transaction.commit()


def _rewritten(table: RecordFile) -> bytes:
    return b"".join(table.encode())  # what a whole-file rewrite of the same records writes


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "historique").mkdir()
    table = _history(tmp_path)
    _commit(tmp_path, lambda t: t.insert(_messages(5)), table)
    return tmp_path


def _replace_tail(table: RecordFile) -> None:
    ids = table.ids()
    table.update(ids[-2], {"content": "asked again"})
    table.remove(ids[-1])
    table.insert(_messages(2, "new answer"))


CHANGES: dict[str, Callable[[RecordFile], None]] = {
    "append": lambda table: table.insert(_messages(2, "turn")),
    "replace-tail": _replace_tail,
    "remove-last": lambda table: table.remove(table.ids()[-1]),
}


@pytest.mark.parametrize("name", CHANGES)
def test_a_patch_leaves_the_bytes_a_rewrite_would_and_keeps_the_file(folder: Path, name: str) -> None:
    table = _history(folder)
    inode = table.path.stat().st_ino
    before = table.path.read_bytes()

    _commit(folder, CHANGES[name], table)

    after = table.path.read_bytes()
    assert after == _rewritten(table) and after != before
    assert table.path.stat().st_ino == inode  # patched in place, not replaced by a rename
    read = read_lines(table.path, "messages")
    assert read is not None and read[1] is not None and len(read[1]) == table.count()  # still our layout
    assert len(json.loads(after)["messages"]) == table.count()  # still a TinyDB table
    assert [m["content"] for m in _history(folder).records()] == [m["content"] for m in table.records()]
    assert list(folder.glob(".journal-*")) == []


def test_a_change_in_the_middle_rewrites_the_whole_file(folder: Path) -> None:
    table = _history(folder)
    inode = table.path.stat().st_ino

    _commit(folder, lambda t: t.remove(t.ids()[0]), table)

    assert table.path.read_bytes() == _rewritten(table)
    assert table.path.stat().st_ino != inode  # the first line changed: no patch, a rename


def _die_at(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, *, torn: bool, inode: int) -> None:
    real = getattr(module, name)

    def step(*args: Any) -> Any:
        if name == "fsync" and os.fstat(args[0]).st_ino != inode:
            return real(*args)  # the journal's own sync, before the commit point: not this step
        if torn:  # a torn write: half the bytes reach the file, then the power goes
            real(args[0], bytes(args[1][: len(args[1]) // 2]))
        raise Crash

    monkeypatch.setattr(module, name, step)


# (module, function the process dies in, whether half its bytes were written): every step of an
# append, from its journal to the journal's removal.
STEPS: dict[str, tuple[Any, str, bool]] = {
    "journal-not-yet-committed": (journal.os, "replace", False),
    "committed-before-the-write": (journal, "apply_patch", False),
    "torn-write": (file_patch.os, "write", True),
    "written-not-cut": (file_patch.os, "ftruncate", False),
    "written-not-synced": (file_patch.os, "fsync", False),
    "synced-journal-still-there": (journal.os, "unlink", False),
}


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_at_each_step_of_an_append_recovers_exactly_the_old_or_the_committed_file(
    folder: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    table = _history(folder)
    before = table.path.read_bytes()
    module, name, torn = STEPS[step]

    _die_at(monkeypatch, module, name, torn=torn, inode=table.path.stat().st_ino)
    with pytest.raises(Crash):
        _commit(folder, lambda t: t.insert(_messages(2, "turn")), table)
    monkeypatch.undo()
    expected = _rewritten(table)  # the records the unit committed, as a rewrite lays them out

    recover(folder, check_journals(folder), (folder / "historique",))  # the next start-up

    if step == "journal-not-yet-committed":
        assert table.path.read_bytes() == before  # never touched: the journal is the commit point
    else:
        assert table.path.read_bytes() == expected
    assert list(folder.glob(".journal-*")) == [] and list(folder.rglob("*.tmp")) == []
    assert _history(folder).count() == (5 if step == "journal-not-yet-committed" else 7)
    assert os.path.getsize(table.path) == len(table.path.read_bytes())


def test_a_rewrite_after_a_patch_first_makes_the_patch_journal_removal_durable(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Else a crash could bring the removed journal back and replay its patch over the rewrite.
    table = _history(folder)
    events: list[str] = []
    real_sync, real_replace = journal.fsync_dir, os.replace
    monkeypatch.setattr(journal, "fsync_dir", lambda path: events.append(f"sync {path}") or real_sync(path))
    monkeypatch.setattr(
        os,
        "replace",
        lambda source, target: events.append(f"replace {target}") or real_replace(source, target),
    )

    _commit(folder, CHANGES["append"], table)
    after_patch = len(events)
    _commit(folder, lambda t: t.remove(t.ids()[0]), table)  # a change in the middle: a rewrite

    rewrite = events[after_patch:]
    assert rewrite.index(f"sync {folder}") < rewrite.index(f"replace {table.path}"), events
    assert table.path.read_bytes() == _rewritten(table)


def test_a_file_too_large_to_split_at_once_is_read_line_by_line_to_the_same_lines(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from BackEnd.storage import record_layout

    whole = record_layout.read_lines(_history(folder).path, "messages")
    monkeypatch.setattr(record_layout, "_WHOLE_SPLIT_BYTES", 0)

    assert record_layout.read_lines(_history(folder).path, "messages") == whole
    assert whole is not None and whole[1] is not None and len(whole[1]) == 5


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_at_each_step_of_an_append_read_at_the_files_end_recovers_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    # A cold long thread appends without reading the whole file (record_tail.py): its patch is
    # the one a full load writes, and recovers as that one does.
    folders = {name: tmp_path / name for name in ("cold", "full")}
    for folder in folders.values():
        (folder / "historique").mkdir(parents=True)
    _commit(folders["cold"], lambda t: t.insert(_messages(1000)), _history(folders["cold"]))
    before = (folders["cold"] / "historique" / "conv_a.json").read_bytes()
    (folders["full"] / "historique" / "conv_a.json").write_bytes(before)
    turn = _messages(2, "turn")
    full = _history(folders["full"])
    full.records()  # read whole, as before record_tail.py
    _commit(folders["full"], lambda t: t.insert(turn), full)
    expected = full.path.read_bytes()
    folder = folders["cold"]
    table = RecordFile(
        folder / "historique" / "conv_a.json", "messages", patch_from_bytes=0, known_count=lambda: 1000
    )
    assert len(table.records(-20)) == 20 and not table.is_loaded()
    module, name, torn = STEPS[step]

    _die_at(monkeypatch, module, name, torn=torn, inode=table.path.stat().st_ino)
    with pytest.raises(Crash):
        _commit(folder, lambda t: t.insert(turn), table)
    monkeypatch.undo()
    recover(folder, check_journals(folder), (folder / "historique",))  # the next start-up

    assert table.path.read_bytes() == (before if step == "journal-not-yet-committed" else expected)
    assert list(folder.glob(".journal-*")) == [] and list(folder.rglob("*.tmp")) == []
    assert _history(folder).count() == (1000 if step == "journal-not-yet-committed" else 1002)
