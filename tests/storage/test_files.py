"""The durable file primitives: atomic replacement, crash-safe failure and the folder lock."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from BackEnd.errors import DataFileCorrupt, StorageUnavailable
from BackEnd.storage import files
from BackEnd.storage.files import (
    FileLock,
    create_durably,
    read_json_file,
    write_durably,
)


def _temp_files(folder: Path) -> list[Path]:
    return [path for path in folder.iterdir() if path.name.endswith(files.TEMP_SUFFIX)]


def test_write_durably_replaces_content_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "data.json"
    target.write_bytes(b'{"old": true, "padding": "xxxxxxxxxxxxxxxxxxxxxxxx"}')

    write_durably(target, b'{"new": 1}')

    assert target.read_bytes() == b'{"new": 1}'
    assert _temp_files(tmp_path) == []
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data.json"]


def test_write_durably_creates_a_missing_file(tmp_path: Path) -> None:
    target = tmp_path / "fresh.json"

    write_durably(target, b"[]")

    assert target.read_bytes() == b"[]"
    assert _temp_files(tmp_path) == []


def test_create_durably_never_replaces_a_file_so_racing_creators_agree(tmp_path: Path) -> None:
    target = tmp_path / "key"
    with ThreadPoolExecutor(max_workers=8) as pool:
        created = list(pool.map(lambda n: create_durably(target, f"key-{n}".encode()), range(16)))

    assert created.count(True) == 1
    assert target.read_bytes() == f"key-{created.index(True)}".encode()
    assert oct(target.stat().st_mode & 0o777) == oct(0o600)
    assert _temp_files(tmp_path) == []


@pytest.mark.parametrize("failing_call", ["replace", "fsync"])
def test_failed_write_keeps_the_old_file_and_removes_its_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing_call: str
) -> None:
    target = tmp_path / "users.json"
    target.write_bytes(b'{"users": {}}')

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, failing_call, boom)
    with pytest.raises(StorageUnavailable, match="No space left"):
        write_durably(target, b'{"users": {"1": {"half": "written"}}}')
    monkeypatch.undo()

    assert target.read_bytes() == b'{"users": {}}'
    assert _temp_files(tmp_path) == []


def test_file_lock_second_non_blocking_acquire_fails_while_held_and_succeeds_after_release(
    tmp_path: Path,
) -> None:
    path = tmp_path / ".server.lock"
    first, second = FileLock(path), FileLock(path)

    assert first.acquire(blocking=False) is True
    try:
        assert second.acquire(blocking=False) is False
    finally:
        first.release()

    assert second.acquire(blocking=False) is True
    second.release()


def test_file_lock_release_without_acquire_is_harmless_and_lock_is_reusable(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / ".lock")
    lock.release()

    assert lock.acquire(blocking=True) is True
    lock.write_owner("4242")
    assert (tmp_path / ".lock").read_text() == "4242"
    lock.release()
    assert lock.acquire(blocking=False) is True
    lock.release()


def test_read_json_file_is_none_for_missing_and_names_the_file_when_empty_or_invalid(tmp_path: Path) -> None:
    assert read_json_file(tmp_path / "absent.json") is None

    empty = tmp_path / "empty.json"
    empty.write_bytes(b"  \n")
    with pytest.raises(DataFileCorrupt, match="empty.json"):
        read_json_file(empty)

    broken = tmp_path / "broken.json"
    broken.write_bytes(b'{"a": ')
    with pytest.raises(DataFileCorrupt, match="broken.json"):
        read_json_file(broken)

    assert os.path.getsize(broken) == len(b'{"a": ')
