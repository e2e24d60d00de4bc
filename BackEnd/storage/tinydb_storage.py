"""A TinyDB `Storage` that writes atomically and serves reads from memory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from ..errors import DataFileCorrupt, StorageUnavailable
from .files import Signature, file_signature, read_json_file
from .journal import write_or_stage

__all__ = ["DurableJSONStorage"]


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
    data folder; `changed_on_disk` lets a caller notice edits made by hand. Inside a file
    transaction (`journal.py`) a write is only staged: the transaction commits it.
    """

    def __init__(self, path: str | Path, *, indent: int | None = None) -> None:
        self.path = Path(path)
        self._indent = indent
        self._data: dict[str, Any] | None = None
        self._loaded_signature: Signature | None = None
        self.size = 0  # bytes of the file the cache holds: what memory budgets count

    def read(self) -> dict[str, Any] | None:
        """Return the tables, or None when the file does not exist yet."""
        if self._data is None:
            signature = file_signature(self.path)
            data = read_json_file(self.path)
            if data is None:
                return None
            self._data = _check_tinydb_shape(self.path, data)
            self._loaded_signature = signature
            self.size = signature[1] if signature else 0
        return self._data

    def write(self, data: dict[str, Any]) -> None:
        """Persist the tables durably before returning, or stage them in the active transaction."""
        self._data = data
        write_or_stage(self)

    def encode(self) -> bytes:
        """The file's bytes for the cached tables; StorageUnavailable for text UTF-8 cannot hold."""
        assert self._data is not None
        try:
            return json.dumps(self._data, ensure_ascii=False, indent=self._indent).encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate
            raise StorageUnavailable(f"cannot write {self.path}: {exc}") from exc

    def committed(self, signature: Signature) -> None:
        """The cached tables are now the file's, whose signature is `signature`."""
        self._loaded_signature = signature
        self.size = signature[1]

    def discard(self) -> None:
        """Forget the cached tables (they may hold an abandoned change): the disk is the truth."""
        self._data = None
        self._loaded_signature = None
        self.size = 0

    def is_loaded(self) -> bool:
        """Whether the parsed file is in memory."""
        return self._data is not None

    def changed_on_disk(self) -> bool:
        """True when someone else replaced or edited the file since we last read or wrote it."""
        return file_signature(self.path) != self._loaded_signature

    def close(self) -> None:
        """Nothing to release: no file handle is kept open."""
