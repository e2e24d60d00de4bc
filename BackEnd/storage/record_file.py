"""One TinyDB-format file of records, kept in memory as the encoded lines of its documents.

The file stays a TinyDB table (`{"messages": {"1": {...}, "2": {...}}}`, which TinyDB reads),
laid out one document per line. So a document is kept as the bytes of its line: a write
re-encodes only what changed, a read decodes only the documents it returns, memory is about
the file's size (not three times it, as parsed JSON), and no encode or decode of a whole long
thread holds the GIL, which would stall the event loop for every user.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import DataFileCorrupt, StorageUnavailable
from .files import Payload, Signature, file_signature, read_json_file, write_durably
from .journal import active_transaction

__all__ = ["RecordFile", "read_records"]

Record = dict[str, Any]
# Bytes of lines joined per write.
_CHUNK_BYTES = 1 << 20


class RecordFile:
    """The records of one table of one file; writes are staged in the thread's file transaction."""

    def __init__(self, path: Path, table: str, *, keep_decoded: bool = False) -> None:
        self.path = path
        self.table = table
        self.size = 0  # bytes of the file held in memory: what memory budgets count
        # Small files read whole on every use (a user's conversations) also keep their records
        # decoded; large ones (a thread) decode only the page asked for.
        self._keep_decoded = keep_decoded
        self._decoded: dict[int, Record] = {}
        self._docs: dict[int, bytes] | None = None  # TinyDB doc id: its line `"7": {...}`, in file order
        self._keys: dict[str, int] | None = None  # record id: doc id, built on first need
        self._others: dict[str, Any] = {}  # other tables of a file written by someone else, kept
        self._next = 1

    # -- reading -------------------------------------------------------------------------
    def _loaded(self) -> dict[int, bytes]:
        if self._docs is None:
            self._load()
        assert self._docs is not None
        return self._docs

    def _load(self) -> None:
        signature = file_signature(self.path)
        docs, self._others = _read_lines(self.path, self.table), {}
        if docs is None:  # not our layout (an older or hand-made file): parse it whole, once
            parsed, self._others = _parse(self.path, self.table)
            docs = {key: _line(key, _encode(doc)) for key, doc in parsed.items()}
        self._docs, self._keys, self._decoded = docs, None, {}
        if self._keep_decoded:
            self._decoded = {key: _decode(line) for key, line in docs.items()}
        self._next = max(docs, default=0) + 1
        self.size = signature[1] if signature else 0

    def _index(self) -> dict[str, int]:
        if self._keys is None:
            docs = self._loaded()
            records = (
                self._decoded if self._keep_decoded else {key: _decode(line) for key, line in docs.items()}
            )
            self._keys = {
                record["id"]: key for key, record in records.items() if isinstance(record.get("id"), str)
            }
        return self._keys

    def count(self) -> int:
        """How many records the file holds."""
        return len(self._loaded())

    def records(self, start: int = 0, stop: int | None = None) -> list[Record]:
        """Copies of the records in file order; a slice of them with `start`/`stop`."""
        docs = self._loaded()
        if self._keep_decoded:
            return [dict(record) for record in list(self._decoded.values())[start:stop]]
        return [_decode(line) for line in list(docs.values())[start:stop]]

    def shared_records(self) -> list[Record]:
        """The decoded records themselves, for sorting without copies: never change them."""
        assert self._keep_decoded, "only a file that keeps its records decoded shares them"
        self._loaded()
        return list(self._decoded.values())

    def get(self, record_id: str) -> Record | None:
        """A copy of the record with this id, or None."""
        key = self._index().get(record_id)
        if key is None:
            return None
        if self._keep_decoded:
            return dict(self._decoded[key])
        return _decode(self._loaded()[key])

    def ids(self) -> list[str]:
        """Every record's id, in file order."""
        return list(self._index())

    # -- changing ------------------------------------------------------------------------
    def insert(self, records: Iterable[Record]) -> None:
        """Append records (each with an id no record of the file has)."""
        docs = self._loaded()
        encoded = [(record, _encode(record)) for record in records]  # all or none: encoding may fail
        for record, doc in encoded:
            docs[self._next] = _line(self._next, doc)
            if self._keep_decoded:
                self._decoded[self._next] = dict(record)
            if self._keys is not None:
                self._keys[record["id"]] = self._next
            self._next += 1
        self._changed()

    def update(self, record_id: str, changes: Record) -> Record | None:
        """Change some fields of one record; a copy of the record as it is now, or None if absent."""
        key = self._index().get(record_id)
        if key is None:
            return None
        record = {**(self.get(record_id) or {}), **changes}
        self._loaded()[key] = _line(key, _encode(record))
        if self._keep_decoded:
            self._decoded[key] = record
        self._changed()
        return dict(record)

    def remove(self, record_id: str) -> bool:
        """Remove one record; False if absent."""
        key = self._index().pop(record_id, None)
        if key is None:
            return False
        del self._loaded()[key]
        self._decoded.pop(key, None)
        self._changed()
        return True

    def truncate(self) -> None:
        """Remove every record."""
        self._loaded().clear()
        self._decoded.clear()
        self._keys = {}
        self._changed()

    def _changed(self) -> None:
        transaction = active_transaction()
        if transaction is not None:
            transaction.stage(self)
            return
        try:
            self.committed(write_durably(self.path, self.encode()))
        except BaseException:
            self.discard()
            raise

    # -- the file transaction's side (journal.StagedFile) --------------------------------
    def encode(self) -> Payload:
        """The file's bytes, in pieces written one by one: no copy of a whole long thread."""
        chunks = [b"{%s: {" % _encode(self.table), b"\n"]
        # Joined about a megabyte at a time: few writes for many small documents, and no copy
        # of a whole long thread in one call, which would hold the GIL for as long as it takes.
        lines = self._loaded().values()
        if not lines:
            return [chunks[0], *self._closing()]
        if self.size < _CHUNK_BYTES * 4:  # small enough to join at once (`size`: the file as last written)
            return [*chunks, b",\n".join(lines), *self._closing()]
        batch: list[bytes] = []
        size = 0
        for line in lines:
            batch.append(line)
            size += len(line)
            if size >= _CHUNK_BYTES:
                chunks += [b",\n".join(batch), b",\n"]
                batch, size = [], 0
        if batch:
            chunks.append(b",\n".join(batch))
        elif len(chunks) > 2:
            chunks.pop()  # the separator after the last full batch
        return chunks + self._closing()

    def _closing(self) -> list[bytes]:
        others = [b", %s: %s" % (_encode(name), _encode(table)) for name, table in self._others.items()]
        return [b"\n}", *others, b"}"]

    def committed(self, signature: Signature) -> None:
        """The documents held are now the file's."""
        self.size = signature[1]

    def discard(self) -> None:
        """Forget everything held (it may be an abandoned change): the disk is the truth."""
        self._docs, self._keys, self._decoded, self._others = None, None, {}, {}
        self.size = 0

    def is_loaded(self) -> bool:
        """Whether the file's documents are in memory."""
        return self._docs is not None


def read_records(path: Path, table: str) -> Iterator[Record]:
    """The documents of one table of a file, decoded one by one and not kept (start-up checks)."""
    docs = _read_lines(path, table)
    if docs is None:
        yield from _parse(path, table)[0].values()
        return
    for key, line in docs.items():
        try:
            record = _decode(line)
        except ValueError as exc:
            raise DataFileCorrupt(path, f"document {key} is not valid JSON") from exc
        if not isinstance(record, dict):
            raise DataFileCorrupt(path, f"document {key} of table {table!r} is not a record")
        yield record


def _read_lines(path: Path, table: str) -> dict[int, bytes] | None:
    # Our layout, read line by line (None if the file is laid out otherwise, or absent).
    # Each document stays undecoded: a file of long messages costs no JSON parsing here.
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below; absent files are common
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise StorageUnavailable(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        if handle.readline() != b"{%s: {\n" % _encode(table):
            return None
        docs: dict[int, bytes] = {}
        for line in handle:
            if line == b"}}":
                return docs
            line = line.rstrip(b"\n").removesuffix(b",")
            key, separator, doc = line.partition(b": ")
            well_formed = key[:1] == key[-1:] == b'"' and key[1:-1].isdigit() and doc[:1] + doc[-1:] == b"{}"
            if not (separator and well_formed):
                return None
            docs[int(key[1:-1])] = line
    return None  # no closing line: not ours (or truncated), let the whole parse name the fault


def _parse(path: Path, table: str) -> tuple[dict[int, Record], dict[str, Any]]:
    tables = read_json_file(path) or {}
    if not isinstance(tables, dict) or not all(isinstance(docs, dict) for docs in tables.values()):
        raise DataFileCorrupt(path, "expected a JSON object of tables")
    parsed: dict[int, Record] = {}
    for key, doc in (tables.pop(table, None) or {}).items():
        if not isinstance(doc, dict) or not key.isdigit():
            raise DataFileCorrupt(path, f"document {key!r} of table {table!r} is not a record")
        parsed[int(key)] = doc
    return parsed, tables


def _line(key: int, doc: bytes) -> bytes:
    return b'"%d": %s' % (key, doc)


def _decode(line: bytes) -> Record:
    # The key is digits between quotes, so the first `": ` ends it.
    record: Record = json.loads(line[line.index(b'": ') + 3 :])
    return record


def _encode(value: Any) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate, which no UTF-8 file can hold
        raise StorageUnavailable(f"cannot encode a record: {exc}") from exc
