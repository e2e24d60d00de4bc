"""The streamed shapes of a dump: what a backend exports (DumpSource) and what a restore reads (RestoreSource)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .file_store import StoredFile
from .summaries import ThreadSummary, summarise

__all__ = ["DumpCounts", "DumpSource", "MemoryRestore", "RestoreSource", "Thread"]

Record = dict[str, Any]
# One thread of a restore: its conversation record (times brought up) and its messages in order.
Thread = tuple[Record, list[Record]]


@dataclass
class DumpCounts:
    """How many records each section holds: the progress total, counted cheaply before the work."""

    users: int = 0
    conversations: int = 0
    messages: int = 0
    usage: int = 0
    audit: int = 0
    files: int = 0

    @property
    def total(self) -> int:
        return self.users + self.conversations + self.messages + self.usage + self.audit + self.files


@dataclass
class DumpSource:
    """A backend's records, section by section, each read from storage as the writer asks for it.

    Sections are iterated once, in the order of the file (users, conversations, messages, usage,
    audit, files); messages come grouped by thread, threads in the order of `conversations`.
    """

    counts: DumpCounts
    users: Iterable[Any]
    conversations: Iterable[Any]
    messages: Iterable[Any]
    usage: Iterable[Any]
    audit: Iterable[Any]
    files: Iterable[StoredFile] = field(default_factory=list)


class RestoreSource(Protocol):
    """A checked dump, read again section by section while a backend loads it.

    Whatever it yields was checked before the restore began (`dump.py`), so a backend only
    writes. `summaries` holds each thread's figures (threads without messages absent),
    `moved` how many threads' `updated_at` was brought up to their last message.
    """

    counts: DumpCounts
    summaries: dict[str, ThreadSummary]
    moved: int
    usage_grouped: bool  # whether `usage()` lists each account's lines together

    def users(self) -> Iterator[Record]: ...
    def conversations(self) -> Iterator[Record]: ...
    def threads(self) -> Iterator[Thread]: ...
    def usage(self) -> Iterator[Record]: ...
    def audit(self) -> Iterator[Record]: ...
    def files(self) -> Iterator[StoredFile]: ...


class MemoryRestore:
    """A RestoreSource over records already in memory (a `Dump` made by code or by tests)."""

    def __init__(
        self,
        users: list[Any],
        conversations: list[Any],
        messages: list[Any],
        usage: list[Any],
        audit: list[Any],
        files: list[StoredFile],
    ) -> None:
        self._users, self._usage, self._audit, self._files = users, usage, audit, files
        self.usage_grouped = False  # made by code: no promise on the order
        self._by_thread: dict[str, list[Record]] = {}
        for message in messages:
            self._by_thread.setdefault(message["conversation_id"], []).append(dict(message))
        self.summaries = {key: summarise(thread) for key, thread in self._by_thread.items()}
        self._conversations = [brought_up(dict(record), self.summaries) for record in conversations]
        self.moved = sum(1 for old, new in zip(conversations, self._conversations, strict=True) if old != new)
        self.counts = DumpCounts(
            len(users), len(conversations), len(messages), len(usage), len(audit), len(files)
        )

    def users(self) -> Iterator[Record]:
        return (copy.deepcopy(dict(record)) for record in self._users)

    def conversations(self) -> Iterator[Record]:
        return (dict(record) for record in self._conversations)

    def threads(self) -> Iterator[Thread]:
        for record in self._conversations:
            yield dict(record), self._by_thread.get(record["id"], [])

    def usage(self) -> Iterator[Record]:
        return (dict(record) for record in self._usage)

    def audit(self) -> Iterator[Record]:
        return (dict(record) for record in self._audit)

    def files(self) -> Iterator[StoredFile]:
        return iter(self._files)


def brought_up(conversation: Record, summaries: Mapping[str, ThreadSummary]) -> Record:
    """The thread with its `updated_at` moved up to its last message where it was older.

    The rule every backend keeps, applied to what a restore brings in (a hand-made dump).
    """
    summary = summaries.get(conversation["id"])
    if summary is not None and summary.last > conversation["updated_at"]:
        conversation["updated_at"] = summary.last
    return conversation
