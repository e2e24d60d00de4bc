"""The storage contract: one small interface per aggregate, reached through a unit of work.

Database ── unit_of_work(owner) ──> UnitOfWork ── .accounts: Accounts
                                              ├── .threads:  Threads (conversations and messages)
                                              ├── .stats:    Stats (per-account figures kept up to date)
                                              ├── .search:   SearchIndex (titles and messages, by word)
                                              ├── .usage:    UsageLedger (tokens spent per day and model)
                                              ├── .audit:    AuditTrail (administrative actions)
                                              └── .events:   RecentEvents (login failures, chat turns)

A unit of work commits every change made through it at once, or none of them: an SQL
transaction, or on TinyDB the owner's lock and one commit point (see `journal.py`). A new
capability adds one interface in `capabilities.py`, an implementation per backend, and a
property on `UnitOfWork`; it inherits atomicity and crash recovery from the unit of work.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal

from ..records import (
    AuditRecord,
    ConversationRecord,
    MessageRecord,
    Preferences,
    Role,
    UsageRecord,
    UserRecord,
)
from .capabilities import (
    AccountTotals,
    AuditTrail,
    RecentEvents,
    SearchHit,
    SearchIndex,
    Stats,
    UsageLedger,
    UsageTotals,
    UserStats,
)
from .dump_stream import DumpSource, MemoryRestore, RestoreSource
from .file_store import FileStore, StoredFile
from .page import Page
from .signals import LocalSignals, SignalChannel

__all__ = [
    "STALE_TURN",
    "ALL_THREADS",
    "AccountTotals",
    "Accounts",
    "AuditTrail",
    "Database",
    "Dump",
    "IN_NO_FOLDER",
    "Page",
    "RecentEvents",
    "SearchHit",
    "SearchIndex",
    "Stats",
    "ThreadQuery",
    "ThreadSort",
    "Threads",
    "UnitOfWork",
    "UsageLedger",
    "UsageTotals",
    "UserStats",
    "profile_changes",
]

# Why a regenerate found its thread changed meanwhile (Threads.replace_last_turn).
STALE_TURN = "The conversation changed while the answer was written; nothing was replaced."


def _ignore(count: int) -> None:
    """No progress to show."""


@dataclass
class Dump:
    """The whole database as plain records: the backup and migration format."""

    users: list[UserRecord]
    conversations: list[ConversationRecord]
    messages: list[MessageRecord]
    # The usage ledger: what deleted threads spent is in no message, so it travels as it is.
    usage: list[UsageRecord] = field(default_factory=list)
    audit: list[AuditRecord] = field(default_factory=list)  # oldest first
    # Stored files (issue 10), each with its bytes: dumped base64 (storage/dump.py).
    files: list[StoredFile] = field(default_factory=list)


ThreadSort = Literal["updated_at", "created_at", "title"]
IN_NO_FOLDER = ""  # ThreadQuery.folder: the threads that are in no folder


@dataclass(frozen=True)
class ThreadQuery:
    """Which of a user's threads a list holds, and in what order; the default is all, by activity.

    `folder` None: any; IN_NO_FOLDER: none. `tags`: every one must be on the thread. `favorite`
    and `archived` None: either. `title` (already folded with `organising.fold`): a substring of
    the folded title. `sort`: both dates newest first, the folded title A→Z.
    """

    folder: str | None = None
    tags: tuple[str, ...] = ()
    favorite: bool | None = None
    archived: bool | None = None
    title: str | None = None
    sort: ThreadSort = "updated_at"


ALL_THREADS = ThreadQuery()


class Accounts(ABC):
    """The accounts, as seen inside one unit of work."""

    @abstractmethod
    def get(self, user_id: str) -> UserRecord | None:
        """The account with this id, read fresh from storage."""

    @abstractmethod
    def get_by_email(self, email: str) -> UserRecord | None:
        """The account with this (already normalised) email."""

    @abstractmethod
    def all(self) -> list[UserRecord]:
        """Every account, oldest first."""

    @abstractmethod
    def add(self, user: UserRecord) -> None:
        """Store a new account; EmailAlreadyRegistered if the email is taken."""

    @abstractmethod
    def set_role(self, email: str, role: Role) -> UserRecord | None:
        """Change an account's role; None if no account has this email."""

    @abstractmethod
    def delete(self, user_id: str) -> bool:
        """Delete an account with all its conversations, messages and usage; False if absent."""

    @abstractmethod
    def update_profile(
        self, user_id: str, *, name: str | None = None, preferences: Preferences | None = None
    ) -> UserRecord | None:
        """Change the name and/or the preferences given (None leaves one as it is); None if absent."""

    # -- classroom (issue 12) ------------------------------------------------------------
    @abstractmethod
    def page(self, *, query: str, active: bool | None, limit: int, offset: int) -> Page[UserRecord]:
        """Accounts oldest first whose email or name contains `query` (any case), of this activity."""

    @abstractmethod
    def update(self, user_id: str, changes: dict[str, object]) -> UserRecord | None:
        """Set some fields of an account (never `id`, `email` or `role`); None if absent."""

    @abstractmethod
    def spend_credits(self, user_id: str, amount: int) -> None:
        """Subtract `amount` from a limited account's credits, atomically; unlimited ones are left alone."""


def profile_changes(name: str | None, preferences: Preferences | None) -> dict[str, Any]:
    """The fields `Accounts.update_profile` writes: those given, as stored."""
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = name
    if preferences is not None:
        changes["preferences"] = dict(preferences)
    return changes


class Threads(ABC):
    """A user's conversations and their messages; another user's look exactly like missing ones."""

    @abstractmethod
    def page(
        self, user_id: str, *, limit: int, offset: int, query: ThreadQuery = ALL_THREADS
    ) -> Page[ConversationRecord]:
        """The user's conversations that `query` selects, in its order (most recently updated first)."""

    @abstractmethod
    def count(self, user_id: str) -> int:
        """How many conversations the user has."""

    @abstractmethod
    def get(self, user_id: str, conversation_id: str) -> ConversationRecord | None:
        """One of the user's conversations."""

    @abstractmethod
    def add(self, conversation: ConversationRecord) -> None:
        """Store a new, empty conversation; NotFoundError (at once or at commit) if the account is gone."""

    @abstractmethod
    def rename(self, user_id: str, conversation_id: str, title: str) -> ConversationRecord | None:
        """Set a conversation's title and stamp `updated_at` now; None if the user has no such one."""

    @abstractmethod
    def retitle(self, user_id: str, conversation_id: str, title: str, *, if_title: str) -> bool:
        """Set an automatic title if the thread's title is still `if_title` (not renamed meanwhile).

        Checked and set at once; `updated_at` does not move (the user did nothing). False when
        the thread is gone or its title changed.
        """

    @abstractmethod
    def delete(self, user_id: str, conversation_id: str) -> bool:
        """Delete a conversation and its messages; False if the user has no such one."""

    # -- organising (issue 11): none of these moves `updated_at`
    @abstractmethod
    def organise(
        self, user_id: str, conversation_id: str, changes: Mapping[str, object]
    ) -> ConversationRecord | None:
        """Set some of is_favorite, archived, folder, tags (already checked); None if no such thread."""

    @abstractmethod
    def tag_counts(self, user_id: str) -> dict[str, int]:
        """Each tag the user's threads carry (archived ones too), with how many carry it."""

    @abstractmethod
    def folder_counts(self, user_id: str) -> dict[str, int]:
        """Each folder the user's threads are in (archived ones too), with how many are in it."""

    @abstractmethod
    def move_folder(self, user_id: str, folder: str, to: str | None) -> int:
        """Move every thread of `folder` into `to` (None: into no folder); how many moved."""

    @abstractmethod
    def insert_dated(
        self, user_id: str, conversation_id: str, messages: list[MessageRecord]
    ) -> ConversationRecord | None:
        """Add messages keeping their own times (copies, oldest first); None if no such thread.

        `updated_at` moves up to the last one if that is later. For copies of stored messages
        (a fork): new turns go through `append`, which stamps the time itself.
        """

    @abstractmethod
    def delete_all(self, user_id: str) -> int:
        """Delete all the user's conversations and messages; returns how many threads went."""

    @abstractmethod
    def messages(
        self, user_id: str, conversation_id: str, *, limit: int, offset: int
    ) -> Page[MessageRecord] | None:
        """A chronological slice of a thread; None if the user has no such conversation."""

    @abstractmethod
    def message_count(self, user_id: str, conversation_id: str) -> int:
        """How many messages the user's thread holds (0 for a thread that is not theirs)."""

    @abstractmethod
    def recent(self, user_id: str, conversation_id: str, count: int) -> Page[MessageRecord] | None:
        """The last `count` messages of a thread, oldest first, and its size; None if no such conversation."""

    @abstractmethod
    def append(
        self, user_id: str, conversation_id: str, messages: list[MessageRecord]
    ) -> ConversationRecord | None:
        """Add messages to a thread and move its `updated_at` to the last one; None if no such thread.

        Storage stamps the messages' `created_at` under its lock, after the thread's last
        time, so history order is time order whichever process or thread commits first.
        """

    # -- regenerate and edit (issue 10); STALE_TURN is the sentence of its NothingToRegenerate
    @abstractmethod
    def replace_last_turn(
        self,
        user_id: str,
        conversation_id: str,
        question: MessageRecord,
        replaced: Sequence[str],
        answers: list[MessageRecord],
    ) -> ConversationRecord | None:
        """Put `question` and `answers` in place of the thread's last turn; None if no such thread.

        The thread must still end with `question`'s id then the `replaced` answer ids, else
        NothingToRegenerate. The question keeps its place and `created_at` and takes this
        record's `content` and `edited_at`. An answer whose id is among `replaced` keeps that
        message's place and `created_at`; the other `replaced` go and the new ones are added,
        stamped after the thread's last time. The thread's `updated_at` moves, its size,
        preview, the account's stats and the search index follow.
        """

    @abstractmethod
    def clear(self, user_id: str, conversation_id: str) -> bool:
        """Delete a thread's messages but keep the thread; False if no such conversation."""


class UnitOfWork(ABC):
    """Changes made through `accounts` and `threads` are committed together when the block ends.

    An exception inside the block discards them all. Reads see the unit's own changes.
    """

    @property
    @abstractmethod
    def accounts(self) -> Accounts:
        """The accounts."""

    @property
    @abstractmethod
    def threads(self) -> Threads:
        """Conversations and messages."""

    @property
    @abstractmethod
    def stats(self) -> Stats:
        """Per-account figures (issue 11)."""

    @property
    @abstractmethod
    def search(self) -> SearchIndex:
        """Titles and messages by word."""

    @property
    @abstractmethod
    def usage(self) -> UsageLedger:
        """The usage ledger."""

    @property
    @abstractmethod
    def audit(self) -> AuditTrail:
        """The administrative actions."""

    @property
    @abstractmethod
    def events(self) -> RecentEvents:
        """Recent login failures and chat turns, for throttling."""

    # -- images of messages (issue 10 part 3)
    @property
    @abstractmethod
    def stored_files(self) -> FileStore:
        """The stored files (message images)."""


class Database(ABC):
    """A storage backend: thread-safe and durable once a unit of work has committed."""

    @abstractmethod
    def unit_of_work(
        self, owner: str | None = None, *, write: bool = True
    ) -> AbstractContextManager[UnitOfWork]:
        """Begin a unit of work, committed when the `with` block ends without an exception.

        `owner` is the account whose threads it reads or changes: on TinyDB, units of one
        owner run one at a time, and those of different owners never wait on each other.
        `write=False` promises only reads, so SQLite does not queue it behind writers.
        """

    @abstractmethod
    def dump_source(self) -> AbstractContextManager[DumpSource]:
        """Every record, section by section, read as the dump is written (`python main.py dump`)."""

    @abstractmethod
    def restore(self, source: RestoreSource, advance: Callable[[int], None] = _ignore) -> None:
        """Load a checked dump into an empty database, calling `advance(n)` as records are written;
        RestoreError if it is not empty. All or nothing: a failure leaves it empty."""

    def export_dump(self) -> Dump:
        """Every record in memory (tests and small tools; the dump command streams `dump_source`)."""
        with self.dump_source() as source:
            return Dump(
                users=list(source.users),
                conversations=list(source.conversations),
                messages=list(source.messages),
                usage=list(source.usage),
                audit=list(source.audit),
                files=list(source.files),
            )

    def import_dump(self, dump: Dump) -> None:
        """Load a validated in-memory dump into an empty database; RestoreError if it is not empty."""
        self.restore(
            MemoryRestore(dump.users, dump.conversations, dump.messages, dump.usage, dump.audit, dump.files)
        )

    @abstractmethod
    def close(self) -> None:
        """Release files, locks and connections."""

    @functools.cached_property
    def signals(self) -> SignalChannel:
        """The channel reaching every process that serves this database (here: this one alone)."""
        return LocalSignals()
