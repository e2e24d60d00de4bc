"""The line layout of record files: one TinyDB document per line, read back without parsing.

`{"messages": {` on the first line, then `"1": {...},` one document a line, then `}}`: still
a TinyDB table (TinyDB reads it), and a reader can keep each line's bytes as they are.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from itertools import repeat
from pathlib import Path
from typing import Any

from ..errors import DataFileCorrupt, StorageUnavailable
from .file_patch import Patch
from .files import read_json_file

__all__ = [
    "Record",
    "decode_line",
    "decode_lines",
    "encode_file",
    "encode_value",
    "keyed",
    "find_documents",
    "line_of",
    "parse_whole",
    "read_lines",
    "read_records",
    "tail_patch",
]

Record = dict[str, Any]
# Bytes of lines joined per write of a long file.
_CHUNK_BYTES = 1 << 20
# Between two document lines, and after the last (with the table's and the file's braces).
_SEPARATOR = b",\n"
_CLOSING = b"\n}}"
_ID = re.compile(rb'"id": ("(?:[^"\\]|\\.)*")')  # a JSON string, escapes and all


def read_records(path: Path, table: str) -> Iterator[Record]:
    """The documents of one table of a file, not kept (start-up checks).

    Parsed whole, in one C call: start-up reads every file once and serves nothing yet, so
    it takes the fastest parse rather than the one that lets other threads run.
    """
    yield from parse_whole(path, table)[0].values()


# Up to this size a file is split in one C call (a few ms holding the GIL); a larger one is
# read line by line, so no single call stalls the event loop for tens of milliseconds.
_WHOLE_SPLIT_BYTES = 8 << 20


def read_lines(path: Path, table: str) -> tuple[int, list[bytes] | None] | None:
    """The file's size and document lines if it is one table in our layout (else None for the
    lines); None if the file is absent.

    Each line keeps its separating comma (all but the last have one): stripping them would
    copy the whole file once more, and a reader only decodes a page (`decode_lines` ignores
    it); `keyed` strips them when a change needs the lines by key. The framing (each line
    `"...": {` to `}`, the commas, the first and closing lines) is checked in a few C calls
    mapped over the lines, so a thread of thousands of messages is framed in about a
    millisecond; the keys are checked when first needed (`keyed`), a document when decoded.
    """
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size <= _WHOLE_SPLIT_BYTES:
                lines = handle.read().split(b"\n")
            else:  # one call per line: the event loop's thread gets the GIL in between
                lines = [line.removesuffix(b"\n") for line in handle]
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageUnavailable(f"cannot read {path}: {exc.strerror}") from exc
    return size, _framed(lines, table)


def _framed(lines: list[bytes], table: str) -> list[bytes] | None:
    # `lines` holds the table's opening line and the closing one around the documents'.
    if len(lines) < 2 or lines[0] != b"{%s: {" % encode_value(table) or lines[-1] != b"}}":
        return None
    documents = lines[1:-1]
    framed = (
        all(map(bytes.endswith, documents[:-1], repeat(b"},")))
        and all(map(bytes.startswith, documents, repeat(b'"')))
        and (not documents or documents[-1].endswith(b"}"))
    )
    return documents if framed else None


def keyed(lines: list[bytes]) -> dict[int, bytes] | None:
    """Each line (without its comma) by its TinyDB doc id, in file order; None if a key is bad or repeats."""
    stripped: list[bytes] = []
    for start in range(0, len(lines), 64):  # in batches: no one call copies a whole long thread
        stripped += map(bytes.removesuffix, lines[start : start + 64], repeat(b","))
    lines = stripped
    try:
        keys = [line[1 : line.index(b'": {')] for line in lines]
    except ValueError:  # a line without its key
        return None
    if keys and not (all(keys) and b"".join(keys).isdigit()):
        return None
    docs = dict(zip(map(int, keys), lines, strict=True))
    return docs if len(docs) == len(lines) else None  # a repeated key: not a file we wrote


def find_documents(path: Path, table: str, values: Iterable[str]) -> dict[str, Record] | None:
    """The documents of one table whose `id` is one of `values`, parsing only their lines.

    A search shows 20 messages of a thread of thousands: finding their lines in the file's
    bytes (one regex pass, in C) costs a fifth of parsing it whole. None when the file is laid
    out otherwise (the caller then parses it whole); {} if the file is absent.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise StorageUnavailable(f"cannot read {path}: {exc.strerror}") from exc
    if not data.startswith(b"{%s: {\n" % encode_value(table)):
        return None
    wanted = {encode_value(value): value for value in values}
    found: dict[str, Record] = {}
    # Inside a JSON string a quote is escaped, so `"id": "…"` can only be a key and its value.
    for match in _ID.finditer(data):
        value = wanted.get(match.group(1))
        if value is None or value in found:
            continue
        start = data.rfind(b"\n", 0, match.start()) + 1
        end = data.find(b"\n", match.end())
        try:
            document = decode_line(data[start : end if end >= 0 else len(data)].removesuffix(b","))
        except (ValueError, json.JSONDecodeError):
            return None
        if isinstance(document, dict) and document.get("id") == value:  # not a nested object's id
            found[value] = document
            if len(found) == len(wanted):
                break
    return found


def parse_whole(path: Path, table: str) -> tuple[dict[int, Record], dict[str, Any]]:
    """A file in any layout, parsed at once: one table's documents, and the other tables."""
    tables = read_json_file(path) or {}
    if not isinstance(tables, dict) or not all(isinstance(docs, dict) for docs in tables.values()):
        raise DataFileCorrupt(path, "expected a JSON object of tables")
    parsed: dict[int, Record] = {}
    for key, doc in (tables.pop(table, None) or {}).items():
        if not isinstance(doc, dict) or not key.isdigit():
            raise DataFileCorrupt(path, f"document {key!r} of table {table!r} is not a record")
        parsed[int(key)] = doc
    return parsed, tables


def encode_file(table: str, lines: list[bytes], others: dict[str, Any], *, joined: bool) -> list[bytes]:
    """A file's bytes in our layout, in pieces written one by one (`joined`: the lines in one piece).

    A long file's lines are joined about a megabyte at a time: few writes for many small
    documents, and no copy of a whole long thread in one call, which would hold the GIL for as
    long as it takes.
    """
    closing = [
        b"\n}",
        *(b", %s: %s" % (encode_value(name), encode_value(docs)) for name, docs in others.items()),
        b"}",
    ]
    chunks = [b"{%s: {" % encode_value(table), b"\n"]
    if not lines:
        return [chunks[0], *closing]
    if joined:
        return [*chunks, _SEPARATOR.join(lines), *closing]
    batch: list[bytes] = []
    size = 0
    for line in lines:
        batch.append(line)
        size += len(line)
        if size >= _CHUNK_BYTES:
            chunks += [_SEPARATOR.join(batch), _SEPARATOR]
            batch, size = [], 0
    if batch:
        chunks.append(_SEPARATOR.join(batch))
    elif len(chunks) > 2:
        chunks.pop()  # the separator after the last full batch
    return chunks + closing


def tail_patch(table: str, lines: list[bytes], clean: int, disk_count: int, size: int) -> Patch:
    """The patch turning a file of `disk_count` lines (`size` bytes, no other table) into
    `lines`, whose first `clean` lines are the file's first ones, unchanged."""
    # The offset ends the last unchanged line: before `\n}}` when lines were only added.
    if clean == disk_count:
        offset = size - len(_CLOSING)
    else:
        header = len(b"{%s: {\n" % encode_value(table))
        offset = header + sum(map(len, lines[:clean])) + len(_SEPARATOR) * (clean - 1)
    rest = lines[clean:]
    return Patch(offset, (_SEPARATOR if rest else b"") + _SEPARATOR.join(rest) + _CLOSING)


def line_of(key: int, doc: bytes) -> bytes:
    """The line of an encoded document."""
    return b'"%d": %s' % (key, doc)


def decode_line(line: bytes) -> Record:
    """The document a line holds."""
    record: Record = json.loads(_document(line))
    return record


def decode_lines(lines: list[bytes]) -> list[Any]:
    """The documents of many lines, in one parse (per-document calls cost more than the parsing)."""
    if len(lines) < 2:
        return [json.loads(_document(line)) for line in lines]
    decoded: list[Any] = json.loads(b"[%s]" % b",".join([_document(line) for line in lines]))
    return decoded


def _document(line: bytes) -> bytes:
    # The key is digits between quotes, so the first `": ` ends it; a line read from a file
    # may still end with its comma (split_lines).
    return line[line.index(b'": ') + 3 :].removesuffix(b",")


def encode_value(value: Any) -> bytes:
    """JSON as our files hold it; StorageUnavailable for text no UTF-8 file can hold."""
    try:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate, which no UTF-8 file can hold
        raise StorageUnavailable(f"cannot encode a record: {exc}") from exc
