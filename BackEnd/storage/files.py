"""Durable file primitives: atomic JSON writes, durable removal and inter-process locks."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

from ..errors import DataFileCorrupt, StorageUnavailable

__all__ = ["FileLock", "TEMP_SUFFIX", "create_durably", "read_json_file", "remove_durably", "write_durably"]

TEMP_SUFFIX = ".tmp"

# Windows cannot open, hence cannot fsync, a directory; NTFS journals the rename itself.
_CAN_FSYNC_DIRS = sys.platform != "win32"


def _fsync_dir(folder: Path) -> None:
    if not _CAN_FSYNC_DIRS:
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, payload: bytes) -> None:
    """Replace `path` with `payload` so that a crash leaves either the old or the new file.

    Temp file in the same folder, flush, fsync, rename over the target, fsync the folder:
    the sequence SQLite's atomic commit relies on.
    """
    temp_name = _durable_temp(path, payload)
    try:
        os.replace(temp_name, path)
        _fsync_dir(path.parent)
    except BaseException as exc:
        with suppress(FileNotFoundError):
            os.unlink(temp_name)
        if isinstance(exc, OSError):  # disk full, read-only folder...: the old file is intact
            raise StorageUnavailable(f"cannot write {path}: {exc.strerror}") from exc
        raise


def create_durably(path: Path, payload: bytes) -> bool:
    """Create `path` (mode 0600) holding `payload`, unless it exists: then False, file untouched.

    A hard link never replaces a file, so of several processes racing, exactly one wins and
    the others read the winner's complete file.
    """
    temp_name = _durable_temp(path, payload)
    try:
        os.link(temp_name, path)
    except FileExistsError:
        return False
    except OSError as exc:
        raise StorageUnavailable(f"cannot create {path}: {exc.strerror}") from exc
    finally:
        with suppress(FileNotFoundError):
            os.unlink(temp_name)
    _fsync_dir(path.parent)
    return True


def _durable_temp(path: Path, payload: bytes) -> str:
    # mkstemp makes the file readable by its owner only.
    try:
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    except OSError as exc:
        raise StorageUnavailable(f"cannot write {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException as exc:
        with suppress(FileNotFoundError):
            os.unlink(temp_name)
        if isinstance(exc, OSError):
            raise StorageUnavailable(f"cannot write {path}: {exc.strerror}") from exc
        raise
    return temp_name


def remove_durably(path: Path) -> bool:
    """Delete `path` and make the deletion itself survive a crash; False if it was absent."""
    try:
        os.unlink(path)
        _fsync_dir(path.parent)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise StorageUnavailable(f"cannot delete {path}: {exc.strerror}") from exc
    return True


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
