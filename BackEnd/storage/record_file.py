"""One TinyDB-format file of records, kept in memory as the encoded lines of its documents.

The file stays a TinyDB table (`{"messages": {"1": {...}, "2": {...}}}`, which TinyDB reads),
laid out one document per line. So a document is kept as the bytes of its line: a write
re-encodes only what changed, a read decodes only the documents it returns, memory is about
the file's size (not three times it, as parsed JSON), and no encode or decode of a whole long
thread holds the GIL, which would stall the event loop for every user.

A change that leaves the file's first lines as they are (new messages, a replaced last turn)
is committed as an in-place patch of its end (file_patch.py): a turn writes its own lines, not
the thread. A history file is checked when first read (its framing, in C) and each line when
decoded; damage raises ThreadDamaged, is logged once, and the file is never written again.
A cold history file whose count is known is read only where it is used (record_tail.py): a
page near either end, the memory window and an append touch its last or first lines only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..errors import DataFileCorrupt
from .file_patch import Patch
from .files import Payload, Signature
from .journal import write_or_stage
from .record_layout import (
    Record,
    decode_lines,
    encode_file,
    encode_value,
    keyed,
    line_of,
    parse_whole,
    read_lines,
    tail_patch,
)
from .record_tail import ColdReads, Tail

__all__ = ["RecordCheck", "RecordFile"]

logger = logging.getLogger(__name__)

# Why a decoded record cannot be served (e.g. "belongs to another conversation"), or None.
RecordCheck = Callable[[Record], str | None]


class RecordFile(ColdReads):
    """The records of one table of one file; writes are staged in the thread's file transaction."""

    def __init__(
        self,
        path: Path,
        table: str,
        *,
        keep_decoded: bool = False,
        check: RecordCheck | None = None,
        damage: type[DataFileCorrupt] | None = None,
        patch_from_bytes: int | None = None,
        known_count: Callable[[], int | None] | None = None,
    ) -> None:
        self.path = path
        self.table = table
        self.size = 0  # bytes of the file held in memory: what memory budgets count
        # Small files read whole on every use (a user's conversations) also keep their records
        # decoded; large ones (a thread) decode only the page asked for.
        self._keep_decoded = keep_decoded
        self._decoded: dict[int, Record] = {}
        self._docs: dict[int, bytes] | None = None  # TinyDB doc id: its line `"7": {...}`, in file order
        # The lines as read, before their keys are parsed: a read needs no keys, a change does.
        self._lines: list[bytes] | None = None
        self._keys: dict[str, int] | None = None  # record id: doc id, built on first need
        self._others: dict[str, Any] = {}  # other tables of a file written by someone else, kept
        self._next = 1
        # Each decoded record passes `check`; with `damage`, a damaged file is remembered (and
        # logged once) as that error, so it is refused from then on and never written.
        self._check = check
        self._damage = damage
        self._damaged: DataFileCorrupt | None = None
        # The documents as the file holds them: None when its layout is not ours (rewrite it
        # whole); else how many they are, of which the first `_clean` are unchanged in memory.
        self._disk_count: int | None = None
        self._clean = 0
        # From what file size a change may be a patch (None: never; only threads grow by turns).
        # Below it a rewrite costs less than the patch's extra sync of its journal.
        self._patch_from = patch_from_bytes
        # How many records the file holds while none is loaded (a thread's summary), or None:
        # with it, a cold file is read only at the end or start a request uses (`_tail`).
        self._known_count = known_count
        self._tail: Tail | None = None

    # -- reading -------------------------------------------------------------------------
    def _loaded(self) -> dict[int, bytes]:
        if self._docs is None:
            lines = self._values()
            if self._docs is None:
                docs = keyed(lines)
                if docs is None:
                    raise self._found_damaged("a line's key is not a unique number")
                self._keep(docs)
        assert self._docs is not None
        return self._docs

    def _values(self) -> list[bytes]:
        """The lines in file order (never change the list: it may be the one held)."""
        if self._docs is not None:
            return list(self._docs.values())
        if self._lines is None:
            self._load()
        return self._lines if self._lines is not None else self._values()

    def _keep(self, docs: dict[int, bytes]) -> None:
        self._docs, self._lines, self._next = docs, None, max(docs, default=0) + 1

    def _load(self) -> None:
        if self._damaged is not None:
            raise self._damaged
        self._keys, self._decoded, self._others = None, {}, {}
        staged, self._tail = ([] if self._tail is None else self._tail.added), None
        try:
            read = read_lines(self.path, self.table)
            size, lines = (0, []) if read is None else read
            self._disk_count = None if read is None or lines is None else len(lines)
            if lines is None:  # not our layout (an older or hand-made file): parse it whole, once
                parsed, self._others = parse_whole(self.path, self.table)
                self._checked(list(parsed.values()))
                self._keep({key: line_of(key, encode_value(doc)) for key, doc in parsed.items()})
            else:
                self._lines = lines
        except DataFileCorrupt as exc:
            raise self._found_damaged(exc.reason) from exc
        self._clean = self._disk_count or 0
        self.size = size
        if staged:  # lines inserted in the partial state, after the file's (keys included)
            docs = self._loaded()
            added = keyed(staged)
            if added is None or not docs.keys().isdisjoint(added):
                raise self._found_damaged("a line's key is not a unique number")
            docs.update(added)
            self._next = max(docs) + 1
        if self._keep_decoded:  # small files, used whole: keyed and decoded at once
            docs = self._loaded()
            self._decoded = dict(zip(docs, self._decode(list(docs.values())), strict=True))

    def _decode(self, lines: list[bytes]) -> list[Record]:
        try:
            records: list[Record] = decode_lines(lines)
        except ValueError as exc:  # not JSON (JSONDecodeError), not UTF-8, or a line without its key
            raise self._found_damaged(f"a document does not decode ({exc})") from exc
        return self._checked(records)

    def _checked(self, records: list[Record]) -> list[Record]:
        for record in records:
            problem = "is not an object" if not isinstance(record, dict) else None
            if problem is None and self._check is not None:
                problem = self._check(record)
            if problem is not None:
                raise self._found_damaged(f"{self.table} record {record.get('id')!r} {problem}")
        return records

    def _found_damaged(self, reason: str) -> DataFileCorrupt:
        if self._damage is None:
            return DataFileCorrupt(self.path, reason)
        if self._damaged is None:
            self._damaged = self._damage(self.path, reason)
            self._docs, self._lines, self._keys, self._decoded, self._tail = None, None, None, {}, None
            logger.error("%s; it is refused until repaired (then restart the server)", self._damaged)
        return self._damaged

    def _index(self) -> dict[str, int]:
        if self._keys is None:
            docs = self._loaded()
            records = (
                self._decoded
                if self._keep_decoded
                else dict(zip(docs, self._decode(list(docs.values())), strict=True))
            )
            self._keys = {
                record["id"]: key for key, record in records.items() if isinstance(record.get("id"), str)
            }
        return self._keys

    def count(self) -> int:
        """How many records the file holds."""
        total = self._partial_total()
        return len(self._values()) if total is None else total

    def records(self, start: int = 0, stop: int | None = None) -> list[Record]:
        """Copies of the records in file order; a slice of them with `start`/`stop`."""
        partly = self._read_partly(start, stop)
        if partly is not None:
            return self._decode(partly)
        lines = self._values()
        if self._keep_decoded:
            return [dict(record) for record in list(self._decoded.values())[start:stop]]
        return self._decode(lines[start:stop])

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
        return self._decode([self._loaded()[key]])[0]

    def ids(self) -> list[str]:
        """Every record's id, in file order."""
        return list(self._index())

    # -- changing ------------------------------------------------------------------------
    def insert(self, records: Iterable[Record]) -> None:
        """Append records (each with an id no record of the file has)."""
        tail = self._tail or self._partial(1)
        if tail is not None and self._patch_from is not None and tail.file_size >= self._patch_from:
            tail.insert([encode_value(record) for record in records])  # all or none: encoding may fail
            self.size = tail.held_bytes()
            self._changed()
            return
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
        self._dirty_from(key)
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
        self._dirty_from(key)
        del self._loaded()[key]
        self._decoded.pop(key, None)
        self._changed()
        return True

    def truncate(self) -> None:
        """Remove every record."""
        self._loaded().clear()
        self._clean = 0
        self._decoded.clear()
        self._keys = {}
        self._changed()

    def _dirty_from(self, key: int) -> None:
        # Lines from the changed one on differ from the file's: a patch rewrites them.
        if self._clean:
            self._clean = min(self._clean, list(self._loaded()).index(key))

    def _changed(self) -> None:
        write_or_stage(self)

    def forget_content(self) -> None:
        """Hold no record, without reading the file: it is being deleted (even if damaged).

        Staged like any change (the caller then stages the file's deletion), so an abandoned
        unit of work discards it and the file is read again.
        """
        self._docs, self._lines, self._keys, self._decoded, self._others = {}, None, {}, {}, {}
        self._tail = None
        self._damaged, self._disk_count, self._clean, self._next = None, None, 0, 1
        self._changed()

    # -- the file transaction's side (journal.StagedFile) --------------------------------
    def encode(self) -> Payload:
        """The file's bytes, in pieces written one by one: no copy of a whole long thread."""
        # `size`, the file as last written, tells a small file (joined at once) from a long one.
        return encode_file(
            self.table, list(self._loaded().values()), self._others, joined=self.size < 4 << 20
        )

    def patch(self) -> Patch | None:
        """The change as a patch of the file's end, if its first line at least is unchanged."""
        if self._tail is not None:  # only lines were added, after the file's: the same bytes
            return self._tail.patch(self.table)
        if self._patch_from is None or self.size < self._patch_from:
            return None
        docs = self._loaded()
        if self._disk_count is None or self._others or not self._clean:
            return None  # not our layout, other tables after ours, or every line changed: rewrite
        return tail_patch(self.table, list(docs.values()), self._clean, self._disk_count, self.size)

    def committed(self, signature: Signature) -> None:
        """The documents held are now the file's, in our layout (with other tables: not ours)."""
        if self._tail is not None:
            self._tail.committed(signature[1])
            self.size = self._tail.held_bytes()
            return
        self.size = signature[1]
        self._clean = len(self._loaded())
        self._disk_count = None if self._others else self._clean

    def discard(self) -> None:
        """Forget everything held (it may be an abandoned change): the disk is the truth."""
        self._docs, self._lines, self._keys, self._decoded, self._others = None, None, None, {}, {}
        self._disk_count, self._clean, self._tail = None, 0, None
        self.size = 0

    def is_loaded(self) -> bool:
        """Whether the file's documents are in memory."""
        return self._docs is not None or self._lines is not None
