"""Durable file primitives: atomic JSON writes, durable removal and inter-process locks."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

from ..errors import DataFileCorrupt, StorageUnavailable

__all__ = [
    "FileLock",
    "Payload",
    "Signature",
    "TEMP_SUFFIX",
    "create_durably",
    "durable_temp",
    "file_signature",
    "fsync_dir",
    "read_json_file",
    "write_durably",
]

TEMP_SUFFIX = ".tmp"

# (inode, size, mtime): how a reader tells that a file was replaced or edited since it looked.
Signature = tuple[int, int, int]
# A file's new content, whole or in pieces written one after the other.
Payload = bytes | Sequence[bytes]

# Windows cannot open, hence cannot fsync, a directory; NTFS journals the rename itself.
_CAN_FSYNC_DIRS = sys.platform != "win32"


def file_signature(path: Path) -> Signature | None:
    """The file's signature now; None if it does not exist; StorageUnavailable if it cannot be seen."""
    try:
        return _signature_of(os.stat(path))
    except FileNotFoundError:
        return None
    except OSError as exc:  # e.g. the data folder's permissions were taken away
        raise StorageUnavailable(f"cannot read {path}: {exc.strerror}") from exc


def _signature_of(stat: os.stat_result) -> Signature:
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def fsync_dir(folder: Path) -> None:
    """Make the folder's entries (renames, creations, deletions) durable."""
    if not _CAN_FSYNC_DIRS:
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, payload: Payload) -> Signature:
    """Replace `path` with `payload` so that a crash leaves either the old or the new file.

    Temp file in the same folder, flush, fsync, rename over the target, fsync the folder:
    the sequence SQLite's atomic commit relies on. Returns the signature of what was
    written, taken before the rename: a hand edit saved just after it is not mistaken for ours.
    """
    temp_name, signature = durable_temp(path, payload)
    try:
        os.replace(temp_name, path)
        fsync_dir(path.parent)
    except BaseException as exc:
        with suppress(FileNotFoundError):
            os.unlink(temp_name)
        if isinstance(exc, OSError):  # disk full, read-only folder...: the old file is intact
            raise StorageUnavailable(f"cannot write {path}: {exc.strerror}") from exc
        raise
    return signature


def create_durably(path: Path, payload: Payload) -> bool:
    """Create `path` (mode 0600) holding `payload`, unless it exists: then False, file untouched.

    A hard link never replaces a file, so of several processes racing, exactly one wins and
    the others read the winner's complete file.
    """
    temp_name, _ = durable_temp(path, payload)
    try:
        os.link(temp_name, path)
    except FileExistsError:
        return False
    except OSError as exc:
        raise StorageUnavailable(f"cannot create {path}: {exc.strerror}") from exc
    finally:
        with suppress(FileNotFoundError):
            os.unlink(temp_name)
    fsync_dir(path.parent)
    return True


def durable_temp(path: Path, payload: Payload, *, sync: bool = True) -> tuple[str, Signature]:
    """A synced temp file beside `path` holding `payload`, and its signature; mode 0600.

    `sync=False`: the caller syncs many such files at once (`sync_all`) before relying on them.
    """
    try:
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    except OSError as exc:
        raise StorageUnavailable(f"cannot write {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in [payload] if isinstance(payload, bytes) else payload:
                handle.write(chunk)  # the GIL is free while a chunk goes to the kernel
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
            signature = _signature_of(os.fstat(handle.fileno()))
    except BaseException as exc:
        with suppress(FileNotFoundError):
            os.unlink(temp_name)
        if isinstance(exc, OSError):
            raise StorageUnavailable(f"cannot write {path}: {exc.strerror}") from exc
        raise
    return temp_name, signature


def sync_all(names: list[str]) -> None:
    """Make files written without a sync durable, with their folders' entries.

    One `os.sync()` where the system has it: a restore's 20,000 files synced one by one
    took most of its time; elsewhere each file, then each folder, is synced.
    """
    if hasattr(os, "sync"):
        os.sync()
        return
    for name in names:
        with open(name, "rb") as handle:
            os.fsync(handle.fileno())
    for folder in {Path(name).parent for name in names}:
        fsync_dir(folder)


def read_json_file(path: Path) -> Any:
    """Parse a data file, or raise DataFileCorrupt naming it; None when the file is absent."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DataFileCorrupt(path, exc.strerror or str(exc)) from exc
    if not raw.strip():
        # Our writes never leave an empty file, so emptiness means truncation.
        raise DataFileCorrupt(path, "the file is empty")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFileCorrupt(path, f"invalid JSON ({exc})") from exc


class FileLock:
    """An advisory lock on a file, held by this process until `release` or its death."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def acquire(self, *, blocking: bool) -> bool:
        """Take the lock; with blocking=False return False at once if someone holds it."""
        handle = open(self.path, "a+", encoding="utf-8")
        try:
            if not _lock(handle, blocking=blocking):
                handle.close()
                return False
        except BaseException:
            handle.close()
            raise
        self._handle = handle
        return True

    def release(self) -> None:
        """Give the lock back; harmless when not held."""
        if self._handle is not None:
            _unlock(self._handle)
            self._handle.close()
            self._handle = None

    def still_ours(self) -> bool:
        """Whether the lock file on disk is still the one we hold (not deleted or replaced).

        StorageUnavailable naming the file if it cannot be looked at (permissions taken away):
        that is no proof it was replaced, and the administrator needs the real cause.
        """
        if self._handle is None:
            return False
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageUnavailable(f"cannot read {self.path}: {exc.strerror}") from exc
        held = os.fstat(self._handle.fileno())
        return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)

    def write_owner(self, text: str) -> None:
        """Record who holds the lock, for the message a second process prints."""
        assert self._handle is not None
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(text)
        self._handle.flush()


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(handle: IO[str], *, blocking: bool) -> bool:
        mode = msvcrt.LK_LOCK if blocking else msvcrt.LK_NBLCK
        handle.seek(0)
        try:
            msvcrt.locking(handle.fileno(), mode, 1)
        except OSError:
            return False
        return True

    def _unlock(handle: IO[str]) -> None:
        handle.seek(0)
        with suppress(OSError):
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(handle: IO[str], *, blocking: bool) -> bool:
        flags = fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB
        try:
            fcntl.flock(handle.fileno(), flags)
        except BlockingIOError:
            return False
        return True

    def _unlock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
