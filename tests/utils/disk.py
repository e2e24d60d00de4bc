"""Disk faults for data-folder tests: injected ENOSPC, file digests, what start-up recovers and leaves."""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from BackEnd.storage import TinyDBDatabase
from BackEnd.storage.base import Dump
from tests.utils.records import LOCK_FILES


def digests(folder: Path) -> dict[str, str]:
    """The SHA-256 of every file under `folder` by relative path (so copies compare), lock files aside."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name not in LOCK_FILES
    }


def reopened(folder: Path) -> Dump:
    """What a server starting on `folder` serves: it opens the folder (finishing or undoing a crash) and dumps it."""
    database = TinyDBDatabase.open(folder)
    try:
        return database.export_dump()
    finally:
        database.close()


def leftovers(folder: Path) -> list[str]:
    """Temp files and journals: what an unfinished change leaves."""
    return sorted(
        path.name
        for path in folder.rglob(".*")
        if path.name.endswith(".tmp") or path.name.startswith(".journal-")
    )


@dataclass
class DiskFaults:
    """Fails the Nth call that needs disk space under `folder` with ENOSPC; a full disk fails every later one too."""

    folder: Path | None = None
    fail_at: int | None = None
    stays_full: bool = False
    calls: list[str] = field(default_factory=list)

    def arm(self, folder: Path, fail_at: int | None, *, stays_full: bool) -> None:
        self.folder, self.fail_at, self.stays_full, self.calls = folder, fail_at, stays_full, []

    def disarm(self) -> None:
        self.folder = None

    def hit(self, kind: str, path: str | os.PathLike[str]) -> None:
        if self.folder is None or not os.path.abspath(path).startswith(str(self.folder)):
            return
        self.calls.append(kind)
        if self.fail_at is not None and (
            len(self.calls) == self.fail_at or (self.stays_full and len(self.calls) > self.fail_at)
        ):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_mkstemp, real_fdopen = tempfile.mkstemp, os.fdopen
        real_replace, real_rename, real_link, real_write = os.replace, os.rename, os.link, os.write
        faults = self

        class Written:
            """The temp file's handle: a refused write leaves half the bytes, as a full disk does."""

            def __init__(self, handle: Any) -> None:
                self.handle = handle

            def write(self, data: bytes) -> int:
                path = os.readlink(f"/proc/self/fd/{self.handle.fileno()}")
                try:
                    faults.hit("write", path)
                except OSError:
                    self.handle.write(data[: len(data) // 2])
                    self.handle.flush()
                    raise
                return int(self.handle.write(data))

            def __getattr__(self, name: str) -> Any:
                return getattr(self.handle, name)

            def __enter__(self) -> Written:
                return self

            def __exit__(self, *exc: object) -> None:
                self.handle.close()

        def mkstemp(*args: Any, **kwargs: Any) -> Any:
            faults.hit("create", os.path.join(str(kwargs.get("dir", "")), "x"))
            return real_mkstemp(*args, **kwargs)

        def fsync(fd: int) -> None:
            faults.hit("fsync", os.readlink(f"/proc/self/fd/{fd}"))
            # What fsync makes durable is not under test here, only what its failure does: skipping
            # the real one saves most of each case's time.

        def write(fd: int, data: Any) -> int:
            """An in-place patch's bytes (file_patch.py): a full disk takes half of them."""
            try:
                faults.hit("write", os.readlink(f"/proc/self/fd/{fd}"))
            except OSError:
                real_write(fd, bytes(data[: len(data) // 2]))
                raise
            return real_write(fd, data)

        def moved(kind: str, real: Callable[..., None]) -> Callable[..., None]:
            def move(source: Any, target: Any, *args: Any, **kwargs: Any) -> None:
                faults.hit(kind, target)
                real(source, target, *args, **kwargs)

            return move

        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
        monkeypatch.setattr(os, "fdopen", lambda *a, **k: Written(real_fdopen(*a, **k)))
        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(os, "write", write)
        monkeypatch.setattr(os, "replace", moved("replace", real_replace))
        monkeypatch.setattr(os, "rename", moved("rename", real_rename))
        monkeypatch.setattr(os, "link", moved("link", real_link))
