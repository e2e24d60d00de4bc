"""The conversation files (one per user) and history files (one per thread), with their locks."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import DataFileCorrupt, ThreadDamaged
from ..record_checks import record_problem
from ..records import ConversationRecord
from .base import UsageTotals
from .journal import FileTransaction
from .record_file import RecordFile
from .record_layout import Record, find_documents, read_records
from .summaries import ThreadSummary, summarise, summary_from_record
from .summary_flush import history_stamp, stamp_of
from .usage_files import Key

__all__ = ["PATCH_FROM_BYTES", "ThreadFiles"]

logger = logging.getLogger(__name__)

# A thread's file from this size on takes a turn as an in-place patch (record_file.py): one
# sync more than a rewrite (the journal's), which costs less than rewriting the file from
# about here on (a rewrite of 128 KB costs about one sync on a 2-core VM's disk).
PATCH_FROM_BYTES = 128 * 1024


class ThreadFiles:
    """`conversations/<user_id>.json` and `historique/<conversation_id>.json`.

    Callers hold `lock(user_id)` around any use of that user's files: one lock per user
    keeps a user's changes in order while different users never wait on each other.
    Threads are kept in an LRU bounded in bytes of file (a kept thread takes about its file's
    size in memory: `record_file.py`), so memory grows neither with the archive nor with the
    size of messages; a thread larger than the whole budget is read from disk at each use.
    """

    def __init__(
        self,
        folder: Path,
        *,
        history_cache_bytes: int = 24 * 1024 * 1024,
        conversation_cache_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        self.conversations_dir = folder / "conversations"
        self.history_dir = folder / "historique"
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        # Conversations files are kept decoded (about six times their size in memory): bounded
        # too, or a school year's 2,000 accounts listing their threads once would hold them all.
        self._conversation_tables: OrderedDict[str, RecordFile] = OrderedDict()
        self._conversation_cache_bytes = conversation_cache_bytes
        self._history_tables: OrderedDict[str, RecordFile] = OrderedDict()
        self._history_checks: dict[str, _MessageCheck] = {}  # kept beside the cached tables
        self._history_guard = threading.Lock()
        self._history_cache_bytes = history_cache_bytes
        self._may_exceed_budget = False  # set when a thread enters the cache or a file is written
        # Thread id: the time of its last message, read at start-up and kept up by each commit.
        self.last_message: dict[str, str] = {}
        # Thread id: its size, preview and messages per day, kept the same way (threads without messages absent).
        self.summaries: dict[str, ThreadSummary] = {}
        # User id: their threads whose summary changed since it was last stored (summary_flush.py).
        self.dirty: dict[str, set[str]] = {}
        self.rebuilt = 0  # summaries the last start-up rebuilt from their history files

    def lock(self, user_id: str) -> threading.Lock:
        """The lock that serialises every change to this user's files."""
        with self._locks_guard:
            return self._locks.setdefault(user_id, threading.Lock())

    def forget_lock(self, user_id: str) -> None:
        """Drop a deleted user's lock so the table of locks does not grow forever."""
        with self._locks_guard:
            self._locks.pop(user_id, None)

    def conversations(self, user_id: str) -> RecordFile:
        """The user's conversations (the file appears on first write)."""
        with self._history_guard:
            table = self._conversation_tables.get(user_id)
            if table is not None:
                self._conversation_tables.move_to_end(user_id)
                return table
            path = self.conversations_dir / f"{user_id}.json"
            table = RecordFile(path, "conversations", keep_decoded=True)
            self._conversation_tables[user_id] = table
            self._may_exceed_budget = True
        return table

    def cached_conversations(self, user_id: str) -> RecordFile | None:
        """The user's conversations if a request already read them, else None."""
        with self._history_guard:
            return self._conversation_tables.get(user_id)

    def history(self, conversation_id: str, user_id: str | None = None) -> RecordFile:
        """A thread's messages table; each message it serves is checked (ThreadDamaged if bad).

        `user_id`, the thread's owner, is checked against each message's when it is known.
        """
        with self._history_guard:
            table = self._history_tables.get(conversation_id)
            if table is None:
                check = _MessageCheck(conversation_id)
                path = self.history_dir / f"{conversation_id}.json"
                table = RecordFile(
                    path,
                    "messages",
                    check=check,
                    damage=ThreadDamaged,
                    patch_from_bytes=PATCH_FROM_BYTES,
                    known_count=lambda: self._known_count(conversation_id),
                )
                self._history_tables[conversation_id] = table
                self._history_checks[conversation_id] = check
                self._may_exceed_budget = True
            else:
                self._history_tables.move_to_end(conversation_id)
            if user_id is not None:
                self._history_checks[conversation_id].user_id = user_id
        return table

    def _known_count(self, conversation_id: str) -> int | None:
        # The count of the thread's file as committed (its summary), so a cold thread is read
        # only where a request uses it (record_tail.py); None: no message, read it whole.
        summary = self.summaries.get(conversation_id)
        return summary.count if summary is not None and summary.count else None

    def committed_history(self, conversation_id: str) -> Iterator[Record]:
        """A thread's messages as its file holds them, without keeping them in the cache."""
        with self._history_guard:
            cached = self._history_tables.get(conversation_id)
        if cached is not None and cached.is_loaded():
            yield from cached.records()  # the same documents, already in memory
            return
        path = self.history_dir / f"{conversation_id}.json"
        if path.exists():
            yield from read_records(path, "messages")

    def committed_messages(self, conversation_id: str, message_ids: list[str]) -> dict[str, Record]:
        """Some of a thread's messages by id, as its file holds them, without keeping them in the cache."""
        with self._history_guard:
            cached = self._history_tables.get(conversation_id)
        wanted = set(message_ids)
        if cached is None or not cached.is_loaded():
            path = self.history_dir / f"{conversation_id}.json"
            found = find_documents(path, "messages", wanted)
            if found is not None:
                return found
        return {
            record["id"]: record
            for record in self.committed_history(conversation_id)
            if record["id"] in wanted
        }

    def trim(self) -> None:
        """Evict least recently used threads until the cache fits its budget in bytes.

        Called once a unit of work has ended, so no evicted table holds a staged change. Each
        request ends one: the sum over the cache is skipped unless it may have grown.
        """
        if not self._may_exceed_budget:
            return
        with self._history_guard:
            self._may_exceed_budget = False
            cached = sum(table.size for table in self._history_tables.values())
            while self._history_tables and cached > self._history_cache_bytes:
                evicted, oldest = self._history_tables.popitem(last=False)
                self._history_checks.pop(evicted, None)
                cached -= oldest.size
            self._trim_conversations()

    def _trim_conversations(self) -> None:
        # Only an account no unit of work holds is dropped (its lock is free): a unit keeps using
        # the table it read, and a second table of the same file would lose its staged change.
        held = sum(table.size for table in self._conversation_tables.values())
        for user_id in list(self._conversation_tables):
            if held <= self._conversation_cache_bytes:
                return
            lock = self._locks.get(user_id)
            if lock is not None and not lock.acquire(blocking=False):
                continue
            try:
                held -= self._conversation_tables.pop(user_id).size
            finally:
                if lock is not None:
                    lock.release()

    def cached_threads(self) -> list[str]:
        """The threads whose messages are in memory, least recently used first."""
        with self._history_guard:
            return [key for key, table in self._history_tables.items() if table.is_loaded()]

    def find(self, user_id: str, conversation_id: str) -> ConversationRecord | None:
        """A copy of one of the user's conversations, or None."""
        found: ConversationRecord | None = self.conversations(user_id).get(conversation_id)  # type: ignore[assignment]
        return found

    def drop_history(self, conversation_id: str, transaction: FileTransaction) -> None:
        """Delete a thread's messages file when `transaction` commits."""
        table = self.history(conversation_id)
        # What the rest of this unit of work reads; the file is not read first, so a damaged
        # thread can still be deleted (the one change allowed to it: its owner gets rid of it).
        table.forget_content()
        transaction.delete(table.path)

    def grew(self) -> None:
        """A unit of work wrote files: the kept threads may now pass the budget."""
        self._may_exceed_budget = True

    def forget(self, user_id: str, conversation_ids: list[str]) -> None:
        """Drop cached tables whose staged change was abandoned or whose file went."""
        with self._history_guard:
            self._conversation_tables.pop(user_id, None)
            for conversation_id in conversation_ids:
                self._history_tables.pop(conversation_id, None)
                self._history_checks.pop(conversation_id, None)
                self.last_message.pop(conversation_id, None)
                self.summaries.pop(conversation_id, None)

    def is_empty(self) -> bool:
        """Whether no conversation or history file exists."""
        return not any(any(folder.glob("*.json")) for folder in (self.conversations_dir, self.history_dir))

    def load(
        self, user_ids: set[str], count_usage: Callable[[str, str, Mapping[Key, UsageTotals]], None]
    ) -> list[Path]:
        """Start-up of a converted folder: every conversations file and the summaries its records
        store (`summaries.py`), checked; no history file is read. Returns the files no record
        refers to; DataFileCorrupt names a bad file, so a refused start-up changes no file.
        """
        unreferenced: list[Path] = []
        owned: set[str] = set()
        self.rebuilt = 0
        for path in sorted(self.conversations_dir.glob("*.json")):
            for doc in read_records(path, "conversations"):
                _check_conversation(path, path.stem, doc)
                owned.add(doc["id"])
                summary = summary_from_record(doc["summary"]) if "summary" in doc else None
                if isinstance(summary, str):
                    raise DataFileCorrupt(path, f"conversation {doc['id']!r} summary {summary}")
                history = self.history_dir / f"{doc['id']}.json"
                # One stat: the summary is the file's only if the file is still the one it describes.
                # A file no account owns is left as it is (reported, never written).
                if path.stem in user_ids and stamp_of(doc.get("summary")) != history_stamp(history):
                    summary = self._rebuilt(path.stem, doc["id"], history, summary)
                if summary is not None and summary.count:
                    self.summaries[doc["id"]] = summary
                    self.last_message[doc["id"]] = summary.last
                    count_usage(path.stem, doc["id"], summary.usage)
            if path.stem not in user_ids:
                unreferenced.append(path)
        # Names only: listing the folder costs no read of the files in it.
        unreferenced += [path for path in sorted(self.history_dir.glob("*.json")) if path.stem not in owned]
        return unreferenced

    def _rebuilt(
        self, user_id: str, conversation_id: str, history: Path, stored: ThreadSummary | None
    ) -> ThreadSummary | None:
        """A thread's summary read from its file (changed since the summary was stored: a crash
        before the flush, a hand edit); its owner is dirty. A damaged file keeps the stored
        summary: the thread itself answers 503 when read, and the next start-up tries again."""
        try:
            docs = list(read_records(history, "messages")) if history.exists() else []
            for doc in docs:
                _check_message(history, conversation_id, user_id, doc)
        except DataFileCorrupt as exc:
            logger.error("thread summary not rebuilt, the thread is damaged: %s", exc)
            return stored
        self.rebuilt += 1
        self.dirty.setdefault(user_id, set()).add(conversation_id)
        return summarise(docs)

    def history_files(self) -> int:
        """How many thread files the folder holds (a conversion's total)."""
        return sum(1 for _ in self.history_dir.glob("*.json"))

    def check(
        self,
        user_ids: set[str],
        count: Callable[[str, str, dict[str, Any]], None] | None = None,
        on_thread: Callable[[], None] | None = None,
    ) -> list[Path]:
        """Conversion check: parse every file; returns the files no record refers to. Writes nothing.

        Raises DataFileCorrupt naming a bad file, so a refused start-up changes no file. A file
        without a record is kept: it may be what is left of a hand edit, and only a journal
        proves that we meant to delete something.
        """
        unreferenced: list[Path] = []
        owners: dict[str, str] = {}
        for path in sorted(self.conversations_dir.glob("*.json")):
            for doc in read_records(path, "conversations"):
                _check_conversation(path, path.stem, doc)
                owners[doc["id"]] = path.stem
            if path.stem not in user_ids:
                unreferenced.append(path)
        for path in sorted(self.history_dir.glob("*.json")):
            if on_thread is not None:
                on_thread()
            conversation_id = path.stem
            if conversation_id not in owners:
                sum(1 for _ in read_records(path, "messages"))  # still checked: it must parse
                unreferenced.append(path)
                continue
            docs = list(read_records(path, "messages"))
            for doc in docs:
                _check_message(path, conversation_id, owners[conversation_id], doc)
                if count is not None:  # the usage ledger counts the stored answers (usage_files.py)
                    count(owners[conversation_id], conversation_id, doc)
            if docs:
                summary = summarise(docs)
                self.summaries[conversation_id] = summary
                self.last_message[conversation_id] = summary.last
        return unreferenced


class _MessageCheck:
    """Why a message read from a thread's file cannot be served (RecordFile's check), or None."""

    def __init__(self, conversation_id: str) -> None:
        self.conversation_id = conversation_id
        self.user_id: str | None = None  # the owner, once a caller names it

    def __call__(self, doc: Record) -> str | None:
        problem = record_problem("message", doc)
        if problem is None and doc["conversation_id"] != self.conversation_id:
            return "belongs to another conversation"
        if problem is None and self.user_id is not None and doc["user_id"] != self.user_id:
            return "belongs to another user"
        return problem


def _check_conversation(path: Path, user_id: str, doc: dict[str, Any]) -> None:
    problem = record_problem("conversation", doc)
    if problem is None and doc["user_id"] != user_id:
        problem = "belongs to another user"
    if problem is not None:
        raise DataFileCorrupt(path, f"conversation {doc.get('id')!r} {problem}")


def _check_message(path: Path, conversation_id: str, user_id: str, doc: dict[str, Any]) -> None:
    problem = record_problem("message", doc)
    if problem is None and (doc["conversation_id"], doc["user_id"]) != (conversation_id, user_id):
        problem = "belongs to another conversation or user"
    if problem is not None:
        raise DataFileCorrupt(path, f"message {doc.get('id')!r} {problem}")
