"""The dump file: `{"format": "assistantia-dump", "version": 3, users, conversations, messages, usage, audit, files}`.

Written and read record by record, so neither grows memory with the data. Version 3 adds the
messages' `images`, `reply_to` and `edited_at`, and the stored image `files` (their bytes base64);
a version 2 file's messages read them as null. Version 2 adds the conversations' organising
fields, the answers' model, finish_reason and usage, the accounts' preferences and classroom
fields, the usage ledger and the audit trail. A version 1 file still restores: its records take
the new fields' defaults and its ledger and audit trail start empty, as a migrated database's do.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from ..records import utc_now
from .base import Dump
from .dump_checks import file_entry
from .dump_reader import CheckedDump
from .dump_stream import DumpCounts, DumpSource
from .files import fsync_dir

__all__ = ["DUMP_FORMAT", "DUMP_VERSION", "open_dump", "read_dump", "write_dump"]

DUMP_FORMAT = "assistantia-dump"
DUMP_VERSION = 3
# Encoded records gathered before one write: few system calls, a bounded buffer.
_WRITE_BATCH = 1_000


def write_dump(
    path: Path, source: DumpSource | Dump, advance: Callable[[int], None] = lambda _: None
) -> None:
    """Write a dump durably (it is a backup), one record a line, reading `source` as it goes.

    The file appears whole or not at all: it is written beside `path` and renamed over it.
    """
    if isinstance(source, Dump):
        source = _source_of(source)
    header = {"format": DUMP_FORMAT, "version": DUMP_VERSION, "exported_at": utc_now()}
    sections: list[tuple[str, Iterable[Any]]] = [
        ("users", source.users),
        ("conversations", source.conversations),
        ("messages", source.messages),
        ("usage", source.usage),
        ("audit", source.audit),
        ("files", (file_entry(file) for file in source.files)),
    ]
    temp = path.with_name(f".{path.name}.writing")
    try:
        with open(temp, "wb") as handle:
            handle.write(json.dumps(header, ensure_ascii=False)[:-1].encode("utf-8"))
            for name, records in sections:
                handle.write(b',\n"%s": [' % name.encode("ascii"))
                _write_records(handle, records, advance)
                handle.write(b"]")
            handle.write(b"}\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp)
        raise
    fsync_dir(path.parent)


def _write_records(handle: Any, records: Iterable[Any], advance: Callable[[int], None]) -> None:
    batch: list[str] = []
    separator = "\n"
    for record in records:
        batch.append(separator + json.dumps(record, ensure_ascii=False))
        separator = ",\n"
        if len(batch) == _WRITE_BATCH:
            handle.write("".join(batch).encode("utf-8"))
            advance(len(batch))
            batch.clear()
    if batch:
        handle.write("".join(batch).encode("utf-8"))
        advance(len(batch))
    if separator != "\n":
        handle.write(b"\n")


@contextmanager
def open_dump(path: Path, advance: Callable[[int], None] = lambda _: None) -> Iterator[CheckedDump]:
    """A dump file checked whole in one streamed pass (RestoreError says what is wrong and where),
    then ready to be read again by a backend's restore. Nothing is written while it is checked;
    `advance(n)`: n more bytes of the file were read."""
    dump = CheckedDump(path, DUMP_FORMAT, frozenset({1, 2, DUMP_VERSION}))
    try:
        dump.check(advance)
        yield dump
    finally:
        dump.close()


def read_dump(path: Path) -> Dump:
    """A whole dump file checked and in memory (tests and small tools); emails normalised."""
    with open_dump(path) as checked:
        messages = [message for _, thread in checked.threads_in_file_order() for message in thread]
        return Dump(
            users=list(checked.users()),  # type: ignore[arg-type]
            conversations=list(checked.conversations(bring_up=False)),  # type: ignore[arg-type]
            messages=messages,  # type: ignore[arg-type]
            usage=list(checked.usage()),  # type: ignore[arg-type]
            audit=list(checked.audit()),  # type: ignore[arg-type]
            files=list(checked.files()),
        )


def _source_of(dump: Dump) -> DumpSource:
    counts = DumpCounts(
        len(dump.users),
        len(dump.conversations),
        len(dump.messages),
        len(dump.usage),
        len(dump.audit),
        len(dump.files),
    )
    return DumpSource(
        counts, dump.users, dump.conversations, dump.messages, dump.usage, dump.audit, dump.files
    )
