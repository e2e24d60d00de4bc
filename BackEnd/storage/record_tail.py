"""A cold thread's file read only where it is used: its last lines or its first ones, not the rest.

A page of 50 messages, or a turn's memory window, needs a few kilobytes of a file that may hold
megabytes: these read them from the end (seeking back a chunk at a time) or from the start.
Only lines plainly in our layout are taken (record_layout.py): anything else returns None, and
the caller reads the whole file as before, which decides whether it is damaged. The lines not
read are not checked: damage there is found when a request needs them (or the file whole).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataFileCorrupt, StorageUnavailable
from .file_patch import Patch
from .record_layout import encode_value, line_of, tail_patch

__all__ = ["PARTIAL_MOST_LINES", "ColdReads", "Tail", "read_head", "read_tail"]

# Bytes read per step back from a file's end (or forward from its start).
_CHUNK_BYTES = 64 * 1024
# A read of more lines than this takes the whole file: a page this far from both ends reads
# most of it anyway, and a partial state holds at most this many lines.
PARTIAL_MOST_LINES = 512
_CLOSING_LINE = b"}}"


@dataclass
class Tail:
    """The last lines of a history file (never all of them) and the lines staged after them."""

    file_size: int
    lines: list[bytes]  # the file's last lines, each without its comma, in file order
    next_key: int  # the doc id the next inserted line takes: the last line's plus one
    count: int | None  # how many documents the file holds, when known (the thread's summary)
    added: list[bytes] = field(default_factory=list)  # inserted lines, staged, not yet in the file

    def held(self) -> list[bytes]:
        """The last lines of the file as it will be once the staged lines are written."""
        return self.lines + self.added

    def held_bytes(self) -> int:
        """What the held lines take in memory (what the thread cache's budget counts)."""
        return sum(map(len, self.lines)) + sum(map(len, self.added))

    def total(self) -> int | None:
        """How many documents the file will hold, when known."""
        return None if self.count is None else self.count + len(self.added)

    def insert(self, docs: list[bytes]) -> None:
        """Stage encoded documents after the last line."""
        for doc in docs:
            self.added.append(line_of(self.next_key, doc))
            self.next_key += 1

    def patch(self, table: str) -> Patch:
        """The staged lines as a patch of the file's end: the bytes a rewrite would leave."""
        return tail_patch(table, self.added, 0, 0, self.file_size)

    def committed(self, file_size: int) -> None:
        """The staged lines are now the file's end; only the last lines stay held."""
        self.lines = (self.lines + self.added)[-PARTIAL_MOST_LINES:]
        self.count = self.total()
        self.added = []
        self.file_size = file_size


class ColdReads:
    """Mixed into RecordFile: a cold file's slices near either end, read without the rest."""

    path: Path
    table: str
    size: int
    _docs: dict[int, bytes] | None
    _lines: list[bytes] | None
    _damaged: DataFileCorrupt | None
    _known_count: Callable[[], int | None] | None
    _tail: Tail | None

    def _partial_total(self) -> int | None:
        """How many records, when known without loading the file (None: load it to know)."""
        if self._docs is not None or self._lines is not None or self._known_count is None:
            return None
        if self._damaged is not None:
            raise self._damaged
        return self._tail.total() if self._tail is not None else self._known_count()

    def _partial(self, count: int) -> Tail | None:
        """A tail holding at least the last `count` lines, read if need be; None: load the file."""
        total = self._partial_total()
        if total is None or not 0 < count < total or count > PARTIAL_MOST_LINES:
            return None
        tail = self._tail
        if tail is None or len(tail.held()) < count:
            staged = [] if tail is None else tail.added
            tail = read_tail(self.path, count - len(staged))
            if tail is None:
                return None
            tail.count, tail.added = total - len(staged), staged
            tail.next_key += len(staged)
            self._tail = tail
            self.size = tail.held_bytes()
        return tail

    def _read_partly(self, start: int, stop: int | None) -> list[bytes] | None:
        """The lines of a slice near either end of a cold file, without the rest; None: load it."""
        total = self._partial_total()
        if total is None or (stop is not None and stop < 0):
            return None
        start, stop = (
            max(start + total, 0) if start < 0 else start,
            total if stop is None else min(stop, total),
        )
        if start >= stop:
            return []
        tail = self._partial(total - start)
        if tail is not None:
            held = tail.held()
            return held[len(held) - (total - start) : len(held) - (total - stop)]
        disk_count = total - (0 if self._tail is None else len(self._tail.added))
        if stop <= PARTIAL_MOST_LINES and stop < disk_count:  # the staged lines come after these
            head = read_head(self.path, self.table, stop)
            return None if head is None else head[start:]
        return None


def read_tail(path: Path, count: int) -> Tail | None:
    """The file's last `count` document lines without the rest, or None: read the file whole.

    None when the file is absent or small (read whole at once), when reading back reaches its
    start, or when the lines read are not plainly ours: the closing line exactly `}}`, each
    line framed `"<key>": {...}` with its comma, keys increasing.
    """
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size <= _CHUNK_BYTES:
                return None
            chunks: list[bytes] = []
            newlines, position = 0, size
            # `count` lines need `count + 1` newlines: the one before the first, and each line's.
            while newlines <= count and position > 0:
                step = min(_CHUNK_BYTES, position)
                position -= step
                handle.seek(position)
                chunk = handle.read(step)
                chunks.append(chunk)
                newlines += chunk.count(b"\n")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageUnavailable(f"cannot read {path}: {exc.strerror}") from exc
    if position == 0:
        return None
    parts = b"".join(reversed(chunks)).split(b"\n")
    raw = parts[-count - 1 : -1]
    if parts[-1] != _CLOSING_LINE or not _framed(raw[:-1], b"},") or not _framed(raw[-1:], b"}"):
        return None
    lines = [line.removesuffix(b",") for line in raw]
    keys = _keys(lines)
    if keys is None:
        return None
    return Tail(file_size=size, lines=lines, next_key=keys[-1] + 1, count=None)


def read_head(path: Path, table: str, count: int) -> list[bytes] | None:
    """The file's first `count` document lines, or None: read the file whole.

    The caller knows the file holds more than `count` documents, so each line read ends
    with its comma.
    """
    try:
        with open(path, "rb") as handle:
            chunks: list[bytes] = []
            newlines = 0
            while newlines <= count:  # the header's newline, then each line's
                chunk = handle.read(_CHUNK_BYTES)
                if not chunk:
                    return None
                chunks.append(chunk)
                newlines += chunk.count(b"\n")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageUnavailable(f"cannot read {path}: {exc.strerror}") from exc
    parts = b"".join(chunks).split(b"\n", count + 1)
    raw = parts[1 : count + 1]
    if parts[0] != b"{%s: {" % encode_value(table) or not _framed(raw, b"},"):
        return None
    return [line.removesuffix(b",") for line in raw]


def _framed(lines: list[bytes], ending: bytes) -> bool:
    return all(line.startswith(b'"') and line.endswith(ending) for line in lines)


def _keys(lines: list[bytes]) -> list[int] | None:
    # The doc ids of lines, if each is a number and they increase (as every file we write).
    try:
        keys = [line[1 : line.index(b'": {')] for line in lines]
    except ValueError:
        return None
    if not all(key.isdigit() for key in keys):
        return None
    numbers = [int(key) for key in keys]
    return numbers if all(a < b for a, b in zip(numbers, numbers[1:], strict=False)) else None
