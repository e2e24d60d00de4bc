"""One TinyDB-format file of records, kept in memory as the encoded lines of its documents.

The file stays a TinyDB table (`{"messages": {"1": {...}, "2": {...}}}`, which TinyDB reads),
laid out one document per line. So a document is kept as the bytes of its line: a write
re-encodes only what changed, a read decodes only the documents it returns, memory is about
the file's size (not three times it, as parsed JSON), and no encode or decode of a whole long
thread holds the GIL, which would stall the event loop for every user.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .files import Payload, Signature, file_signature
from .journal import write_or_stage
from .record_layout import Record, decode_line, decode_lines, encode_value, line_of, parse_whole, read_lines

__all__ = ["RecordFile"]
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
        docs, self._others = read_lines(self.path, self.table), {}
        if docs is None:  # not our layout (an older or hand-made file): parse it whole, once
            parsed, self._others = parse_whole(self.path, self.table)
            docs = {key: line_of(key, encode_value(doc)) for key, doc in parsed.items()}
        self._docs, self._keys, self._decoded = docs, None, {}
        if self._keep_decoded:
            self._decoded = dict(zip(docs, decode_lines(list(docs.values())), strict=True))
        self._next = max(docs, default=0) + 1
        self.size = signature[1] if signature else 0

    def _index(self) -> dict[str, int]:
        if self._keys is None:
            docs = self._loaded()
            records = (
                self._decoded
                if self._keep_decoded
                else dict(zip(docs, decode_lines(list(docs.values())), strict=True))
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
        return decode_lines(list(docs.values())[start:stop])

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
        return decode_line(self._loaded()[key])

    def ids(self) -> list[str]:
        """Every record's id, in file order."""
        return list(self._index())

    # -- changing ------------------------------------------------------------------------
    def insert(self, records: Iterable[Record]) -> None:
        """Append records (each with an id no record of the file has)."""
        docs = self._loaded()
        encoded = [(record, encode_value(record)) for record in records]  # all or none: encoding may fail
        for record, doc in encoded:
            docs[self._next] = line_of(self._next, doc)
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
        self._loaded()[key] = line_of(key, encode_value(record))
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
        write_or_stage(self)

    # -- the file transaction's side (journal.StagedFile) --------------------------------
    def encode(self) -> Payload:
        """The file's bytes, in pieces written one by one: no copy of a whole long thread."""
        chunks = [b"{%s: {" % encode_value(self.table), b"\n"]
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
        others = [
            b", %s: %s" % (encode_value(name), encode_value(table)) for name, table in self._others.items()
        ]
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
