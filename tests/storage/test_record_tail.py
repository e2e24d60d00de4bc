"""A cold thread read at its ends only (record_tail.py): the same records and file bytes as a full load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from BackEnd.errors import ThreadDamaged
from BackEnd.record_checks import record_problem
from BackEnd.records import message_record
from BackEnd.storage import record_tail
from BackEnd.storage.journal import FileTransaction
from BackEnd.storage.record_file import RecordFile


def _messages(count: int, text: str = "message", width: int = 300) -> list[dict[str, Any]]:
    return [message_record("usr_a", "conv_a", "user", f"{text} {i} é " + "x" * width) for i in range(count)]


def _table(path: Path, count: int | None, patch_from: int = 0) -> RecordFile:
    return RecordFile(
        path,
        "messages",
        check=lambda record: record_problem("message", record),
        damage=ThreadDamaged,
        patch_from_bytes=patch_from,
        known_count=lambda: count,
    )


def _commit(folder: Path, table: RecordFile, records: list[dict[str, Any]]) -> None:
    transaction = FileTransaction(folder)
    with transaction.activate():
        table.insert(records)
    transaction.commit()


def _thread(tmp_path: Path, count: int, width: int = 300) -> Path:
    path = tmp_path / "conv_a.json"
    _commit(tmp_path, _table(path, None), _messages(count, width=width))
    return path


# (messages, characters a message): files under a chunk (read whole) and over it (read at the ends).
SIZES = [
    (1, 300),
    (2, 300),
    (49, 300),
    (1, 70_000),
    (2, 40_000),
    (3, 30_000),
    (51, 2000),
    (400, 300),
    (600, 300),
]


@pytest.mark.parametrize(("count", "width"), SIZES)
def test_pages_from_either_end_and_the_memory_window_are_the_full_loads(
    tmp_path: Path, count: int, width: int
) -> None:
    path = _thread(tmp_path, count, width)
    full = _table(path, None).records()
    for start, stop in [(0, 50), (0, 1), (1, 3), (count - 50, count), (count - 1, None), (count, None)]:
        start = max(start, 0)
        table = _table(path, count)
        assert table.records(start, stop) == full[start:stop], (start, stop)
        assert table.count() == count
    for window in [1, 2, 20, count, count + 5]:
        assert _table(path, count).records(-window) == full[-window:]


def test_a_cold_long_thread_holds_only_the_lines_it_read(tmp_path: Path) -> None:
    path = _thread(tmp_path, 2000)
    table = _table(path, 2000)

    assert len(table.records(-20)) == 20 and len(table.records(0, 50)) == 50
    assert table.count() == 2000

    assert not table.is_loaded()  # the whole file was never read
    assert 0 < table.size < path.stat().st_size // 20  # what the cache's budget counts


@pytest.mark.parametrize("shift", [-1, 0, 1, 2])
def test_a_chunk_ending_at_a_line_boundary_reads_the_same_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shift: int
) -> None:
    path = _thread(tmp_path, 400)
    data = path.read_bytes()
    # A chunk that starts exactly at (or around) the start of the 10th line from the end.
    boundary = len(data) - len(b"\n".join(data.split(b"\n")[-11:]))
    monkeypatch.setattr(record_tail, "_CHUNK_BYTES", len(data) - boundary + shift)
    full = _table(path, None).records()

    for window in [9, 10, 11, 12, 30]:
        assert _table(path, 400).records(-window) == full[-window:]
    assert _table(path, 400).records(0, 12) == full[:12]


def test_lines_longer_than_a_chunk_are_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(record_tail, "_CHUNK_BYTES", 1000)
    path = _thread(tmp_path, 30, width=5000)
    full = _table(path, None).records()

    assert _table(path, 30).records(-3) == full[-3:]
    assert _table(path, 30).records(0, 2) == full[:2]
    assert _table(path, 30).records(25, 30) == full[25:]


@pytest.mark.parametrize("window", [0, 1, 20])
def test_an_append_in_the_partial_state_writes_the_bytes_of_a_full_load(tmp_path: Path, window: int) -> None:
    path = _thread(tmp_path, 600)
    original = path.read_bytes()
    turn = _messages(2, "turn")

    full = _table(path, None)
    full.records()  # loaded whole: the patch of the `append` branch
    _commit(tmp_path, full, turn)
    expected = path.read_bytes()
    path.write_bytes(original)

    partial = _table(path, 600)
    if window:
        partial.records(-window)
    _commit(tmp_path, partial, turn)

    assert not partial.is_loaded()
    assert path.read_bytes() == expected
    assert partial.count() == 602
    assert partial.records(-3) == _table(path, None).records()[-3:]
    _commit(tmp_path, partial, _messages(1, "next"))  # and again from the state it kept
    assert [m["content"] for m in _table(path, None).records()[-4:]] == [
        m["content"] for m in partial.records(-4)
    ]


def test_a_change_in_the_middle_after_a_partial_append_loads_the_whole_file(tmp_path: Path) -> None:
    path = _thread(tmp_path, 600)
    table = _table(path, 600)
    transaction = FileTransaction(tmp_path)
    with transaction.activate():
        table.insert(_messages(1, "turn"))
        first = table.ids()[0]
        table.update(first, {"content": "changed"})
    transaction.commit()

    records = _table(path, None).records()
    assert len(records) == 601 and records[0]["content"] == "changed"
    assert records[-1]["content"].startswith("turn 0")
    assert len({int(k) for k in path.read_text().split('"')[1::2] if k.isdigit()}) >= 601


def _damage_line(path: Path, index_from_end: int) -> None:
    lines = path.read_bytes().split(b"\n")
    target = len(lines) - 1 - index_from_end
    key = lines[target].split(b":", 1)[0]
    lines[target] = key + b': {"id": 5}' + (b"," if index_from_end > 1 else b"")
    path.write_bytes(b"\n".join(lines))


def test_a_damaged_line_in_the_part_read_is_refused(tmp_path: Path) -> None:
    path = _thread(tmp_path, 600)
    _damage_line(path, 3)

    with pytest.raises(ThreadDamaged):
        _table(path, 600).records(-20)


def test_a_damaged_line_outside_the_part_read_is_not_seen_until_the_file_is_read_whole(
    tmp_path: Path,
) -> None:
    path = _thread(tmp_path, 600)
    _damage_line(path, 300)
    table = _table(path, 600)

    assert len(table.records(-20)) == 20 and len(table.records(0, 50)) == 50  # documented
    with pytest.raises(ThreadDamaged):
        table.records(250, 350)
