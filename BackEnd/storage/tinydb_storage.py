"""A TinyDB `Storage` that writes atomically and serves reads from memory."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from ..errors import DataFileCorrupt, StorageUnavailable
from .files import read_json_file, write_durably

__all__ = ["DurableJSONStorage"]

_Signature = tuple[int, int, int]


def _signature(path: Path) -> _Signature | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _check_tinydb_shape(path: Path, data: Any) -> dict[str, dict[str, dict[str, Any]]]:
    if not isinstance(data, dict):
        raise DataFileCorrupt(path, "expected a JSON object of tables")
    for name, table in data.items():
        if not isinstance(table, dict) or not all(isinstance(doc, dict) for doc in table.values()):
            raise DataFileCorrupt(path, f"table {name!r} is not an object of documents")
    return data


class DurableJSONStorage(Storage):
    """TinyDB storage: atomic, fsync'd writes; the parsed file is cached between calls.

    Unlike TinyDB's JSONStorage, a crash mid-write cannot leave a half-written file, and
    reads do not re-parse the file. The cache is trusted because one process owns the
    data folder; `changed_on_disk` lets a caller notice edits made by hand.
    """

    def __init__(self, path: str | Path, *, indent: int | None = None) -> None:
        self.path = Path(path)
        self._indent = indent
        self._data: dict[str, Any] | None = None
        self._loaded_signature: _Signature | None = None

    def read(self) -> dict[str, Any] | None:
        """Return the tables, or None when the file does not exist yet."""
        if self._data is None:
            signature = _signature(self.path)
            data = read_json_file(self.path)
            if data is None:
                return None
            self._data = _check_tinydb_shape(self.path, data)
            self._loaded_signature = signature
        return self._data

    def write(self, data: dict[str, Any]) -> None:
        """Persist the tables durably before returning."""
        try:
            payload = json.dumps(data, ensure_ascii=False, indent=self._indent).encode("utf-8")
            write_durably(self.path, payload)
        except BaseException as exc:
            # TinyDB already mutated the cached dict; forget it so the disk stays the truth.
            self._data = None
            if isinstance(exc, UnicodeEncodeError):  # text no UTF-8 file can hold (a lone surrogate)
                raise StorageUnavailable(f"cannot write {self.path}: {exc}") from exc
            raise
        self._data = data
        self._loaded_signature = _signature(self.path)

    def cached_documents(self) -> int:
        """How many documents the parsed file held in memory has (0 when not read yet)."""
        return sum(len(table) for table in self._data.values()) if self._data else 0

    def changed_on_disk(self) -> bool:
        """True when someone else replaced or edited the file since we last read or wrote it."""
        return _signature(self.path) != self._loaded_signature

    def close(self) -> None:
        """Nothing to release: no file handle is kept open."""
