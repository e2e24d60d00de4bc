"""The conversation files (one per user) and history files (one per thread), with their locks."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, NamedTuple

from tinydb import Query, TinyDB
from tinydb.table import Table

from ..errors import DataFileCorrupt
from ..records import ConversationRecord, record_problem
from .files import remove_durably
from .tinydb_storage import DurableJSONStorage

__all__ = ["BY_ID", "SweepPlan", "SweepReport", "ThreadFiles"]

BY_ID = Query().id


class ThreadFiles:
    """`conversations/<user_id>.json` and `historique/<conversation_id>.json`.

    Callers hold `lock(user_id)` around any use of that user's files: one lock per user
    keeps a user's changes in order while different users never wait on each other.
    History tables are kept in an LRU so memory does not grow with the archive; it holds a
    class's worth of threads (200 students each in one), so a busy class never re-parses files,
    and at most `history_cache_messages` messages, so a few very long threads cannot take the
    memory of hundreds (about 2 KB per cached 600-byte message, measured).
    """

    def __init__(
        self, folder: Path, *, history_cache_size: int = 256, history_cache_messages: int = 15_000
    ) -> None:
        self.conversations_dir = folder / "conversations"
        self.history_dir = folder / "historique"
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._conversation_tables: dict[str, Table] = {}
        self._history_tables: OrderedDict[str, Table] = OrderedDict()
        self._history_guard = threading.Lock()
        self._history_cache_size = history_cache_size
        self._history_cache_messages = history_cache_messages

    def lock(self, user_id: str) -> threading.Lock:
        """The lock that serialises every change to this user's files."""
        with self._locks_guard:
            return self._locks.setdefault(user_id, threading.Lock())

    def forget_lock(self, user_id: str) -> None:
        """Drop a deleted user's lock so the table of locks does not grow forever."""
        with self._locks_guard:
            self._locks.pop(user_id, None)

    def conversations(self, user_id: str) -> Table:
        """The user's conversations table (the file appears on first write)."""
        table = self._conversation_tables.get(user_id)
        if table is None:
            path = self.conversations_dir / f"{user_id}.json"
            table = TinyDB(str(path), storage=DurableJSONStorage).table("conversations")
            self._conversation_tables[user_id] = table
        return table

    def history(self, conversation_id: str) -> Table:
        """A thread's messages table."""
        with self._history_guard:
            table = self._history_tables.get(conversation_id)
            if table is not None:
                self._history_tables.move_to_end(conversation_id)
                return table
            path = self.history_dir / f"{conversation_id}.json"
            table = TinyDB(str(path), storage=DurableJSONStorage).table("messages")
            self._history_tables[conversation_id] = table
            self._evict_history()
        return table

    def _evict_history(self) -> None:
        # On a miss only: a hit costs no scan. The new table is not read yet, so it counts 0.
        cached = sum(_storage(table).cached_documents() for table in self._history_tables.values())
        while len(self._history_tables) > 1 and (
            len(self._history_tables) > self._history_cache_size or cached > self._history_cache_messages
        ):
            _, oldest = self._history_tables.popitem(last=False)
            cached -= _storage(oldest).cached_documents()

    def cached_threads(self) -> list[str]:
        """The threads whose messages are in memory, least recently used first."""
        with self._history_guard:
            return list(self._history_tables)

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        """A thread's stored messages, oldest first: the cached documents themselves, not copies.

        Reads skip TinyDB's `all()`, which wraps every message of the thread in a Document
        only for the caller to keep a page of them; callers copy what they return.
        """
        tables = self.history(conversation_id).storage.read() or {}
        return list((tables.get("messages") or {}).values())

    def find(self, user_id: str, conversation_id: str) -> ConversationRecord | None:
        """One of the user's conversations, or None."""
        doc = self.conversations(user_id).get(BY_ID == conversation_id)
        return dict(doc) if doc is not None else None  # type: ignore[return-value]

    def drop_history(self, conversation_id: str) -> None:
        """Delete a thread's messages file; its text is gone from disk."""
        with self._history_guard:
            self._history_tables.pop(conversation_id, None)
        remove_durably(self.history_dir / f"{conversation_id}.json")

    def drop_user_threads(self, user_id: str) -> int:
        """Delete all of a user's threads, the list first; returns how many went."""
        ids = [doc["id"] for doc in self.conversations(user_id).all()]
        self._conversation_tables.pop(user_id, None)
        remove_durably(self.conversations_dir / f"{user_id}.json")
        for conversation_id in ids:
            self.drop_history(conversation_id)
        return len(ids)

    def is_empty(self) -> bool:
        """Whether no conversation or history file exists."""
        return not any(any(folder.glob("*.json")) for folder in (self.conversations_dir, self.history_dir))

    def check(self, user_ids: set[str]) -> SweepPlan:
        """Start-up check: parse every file and list what a crash left to finish; writes nothing.

        Raises DataFileCorrupt naming a bad file, so a refused start-up changes no file.
        """
        orphans: list[Path] = []
        late: dict[str, tuple[str, str]] = {}
        owners: dict[str, str] = {}
        updated_at: dict[str, str] = {}
        for path in sorted(self.conversations_dir.glob("*.json")):
            if path.stem not in user_ids:
                orphans.append(path)
                continue
            for doc in self.conversations(path.stem).all():
                _check_conversation(path, path.stem, doc)
                owners[doc["id"]], updated_at[doc["id"]] = path.stem, doc["updated_at"]
        for path in sorted(self.history_dir.glob("*.json")):
            conversation_id = path.stem
            if conversation_id not in owners:
                orphans.append(path)
                continue
            messages = ((DurableJSONStorage(path).read() or {}).get("messages") or {}).values()
            for doc in messages:
                _check_message(path, conversation_id, owners[conversation_id], doc)
            last = max((doc["created_at"] for doc in messages), default="")
            if last > updated_at[conversation_id]:
                late[conversation_id] = (owners[conversation_id], last)
        return SweepPlan(orphans, late)

    def sweep(self, plan: SweepPlan) -> SweepReport:
        """Finish what a crash interrupted, once `check` found every file whole.

        Deletes the orphans of interrupted deletions and turns, and moves a thread's
        `updated_at` up to its last message when a crash fell between the two writes of a turn.
        """
        removed = sum(remove_durably(path) for path in plan.orphans)
        for conversation_id, (owner, last) in plan.late.items():
            self.conversations(owner).update({"updated_at": last}, BY_ID == conversation_id)
        return SweepReport(removed=removed, refreshed=len(plan.late))


class SweepPlan(NamedTuple):
    """What start-up found left to finish: orphan files, and threads behind their last message."""

    orphans: list[Path]
    late: dict[str, tuple[str, str]]  # conversation id: (owner, time of its last message)


def _storage(table: Table) -> DurableJSONStorage:
    storage: DurableJSONStorage = table.storage  # type: ignore[assignment]
    return storage


class SweepReport(NamedTuple):
    """What start-up had to finish."""

    removed: int
    refreshed: int


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
