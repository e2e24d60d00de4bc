"""The line layout of record files: one TinyDB document per line, read back without parsing.

`{"messages": {` on the first line, then `"1": {...},` one document a line, then `}}`: still
a TinyDB table (TinyDB reads it), and a reader can keep each line's bytes as they are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import DataFileCorrupt, StorageUnavailable
from .files import read_json_file

__all__ = [
    "Record",
    "decode_line",
    "decode_lines",
    "encode_value",
    "find_documents",
    "line_of",
    "parse_whole",
    "read_lines",
    "read_records",
]

Record = dict[str, Any]
_ID = re.compile(rb'"id": ("(?:[^"\\]|\\.)*")')  # a JSON string, escapes and all


def read_records(path: Path, table: str) -> Iterator[Record]:
    """The documents of one table of a file, not kept (start-up checks).

    Parsed whole, in one C call: start-up reads every file once and serves nothing yet, so
    it takes the fastest parse rather than the one that lets other threads run.
    """
    yield from parse_whole(path, table)[0].values()


def read_lines(path: Path, table: str) -> dict[int, bytes] | None:
    """Each document's line by TinyDB doc id; {} if the file is absent, None if laid out otherwise.

    Read line by line and left undecoded: a file of long messages costs no JSON parsing here.
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below; absent files are common
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise StorageUnavailable(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        if handle.readline() != b"{%s: {\n" % encode_value(table):
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
    # The key is digits between quotes, so the first `": ` ends it.
    return line[line.index(b'": ') + 3 :]


def encode_value(value: Any) -> bytes:
    """JSON as our files hold it; StorageUnavailable for text no UTF-8 file can hold."""
    try:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate, which no UTF-8 file can hold
        raise StorageUnavailable(f"cannot encode a record: {exc}") from exc
