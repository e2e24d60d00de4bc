"""In-place patches of data files: bytes written at an offset, then the file cut just after them.

A patch is only ever applied from a committed journal that holds its bytes (journal.py), so
a crash in the middle of one (a torn write, a lost fsync) is repaired at start-up by applying
it again: the same bytes at the same offset, then the same length, whatever the file held.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Patch", "apply_patch", "patch_from_journal", "patch_to_journal"]

# Windows opens files in text mode unless told otherwise; elsewhere the flag does not exist.
_BINARY = getattr(os, "O_BINARY", 0)


@dataclass(frozen=True)
class Patch:
    """Write `data` at `offset`, then truncate the file to `offset + len(data)`."""

    offset: int
    data: bytes

    @property
    def size(self) -> int:
        """The file's size once the patch is applied."""
        return self.offset + len(self.data)


def apply_patch(path: Path, patch: Patch) -> None:
    """Apply `patch` to `path` and fsync it; OSError if the disk refuses (FileNotFoundError if gone).

    Idempotent: applying it again after a crash at any point gives the same bytes.
    """
    fd = os.open(path, os.O_WRONLY | _BINARY)
    try:
        os.lseek(fd, patch.offset, os.SEEK_SET)
        view = memoryview(patch.data)
        while view:
            view = view[os.write(fd, view) :]  # a short write (a signal, a full pipe) is continued
        os.ftruncate(fd, patch.size)
        os.fsync(fd)
    finally:
        os.close(fd)


def patch_to_journal(relative_path: str, patch: Patch) -> list[Any]:
    """The journal entry of a patch: its bytes as JSON text (any byte survives the round trip)."""
    return [relative_path, patch.offset, patch.data.decode("utf-8", "surrogateescape")]


def patch_from_journal(entry: Any) -> tuple[str, Patch] | None:
    """The file and patch of a journal entry, or None if the entry is not one."""
    if not (isinstance(entry, list) and len(entry) == 3):
        return None
    relative_path, offset, text = entry
    if not (
        isinstance(relative_path, str) and isinstance(offset, int) and offset >= 0 and isinstance(text, str)
    ):
        return None
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return None
    return relative_path, Patch(offset, data)
