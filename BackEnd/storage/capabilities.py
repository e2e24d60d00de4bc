"""The storage capabilities beside accounts and threads, each its own small seam.

Each is reached through the unit of work (`UnitOfWork.stats`, `.search`, `.usage`, `.audit`,
`.events`) and changes with the unit's other changes, or not at all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from ..completion import Usage
from ..records import AuditRecord, ConversationRecord, MessageRole, UsageRecord
from ..search_text import SearchQuery
from .page import Page

__all__ = [
    "AccountTotals",
    "AuditTrail",
    "RecentEvents",
    "SearchHit",
    "SearchIndex",
    "Stats",
    "UsageLedger",
    "UsageTotals",
    "UserStats",
]


class AuditTrail(ABC):
    """The administrative actions, append-only."""

    @abstractmethod
    def append(self, event: AuditRecord) -> None:
        """Record one action, committed with the unit's other changes."""

    @abstractmethod
    def page(self, *, limit: int, offset: int) -> Page[AuditRecord]:
        """The actions newest first."""


class RecentEvents(ABC):
    """Timestamped events under a key (a login failure, a chat turn), for limits over a time window.

    Times are seconds since the epoch. State shared by every server process using the database.
    """

    @abstractmethod
    def take(self, key: str, *, now: float, window: float, limit: int, record: bool) -> float | None:
        """Seconds until `key` is under `limit` events in `window` again, or None if it is now.

        With `record`, an event is added at `now` when the key is under the limit (check and add
        at once, so parallel callers cannot all slip in). Older events are forgotten.
        """

    @abstractmethod
    def add(self, key: str, *, now: float) -> None:
        """Record one event."""

    @abstractmethod
    def clear(self, key: str) -> None:
        """Forget every event of a key."""


@dataclass(frozen=True)
class UserStats:
    """One account's figures; `by_day` holds only the days (UTC, "YYYY-MM-DD") that have messages."""

    conversations: int = 0
    messages: int = 0
    favorites: int = 0
    archived: int = 0
    folders: int = 0
    tags: int = 0
    first_message_at: str | None = None
    last_message_at: str | None = None
    by_day: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AccountTotals:
    """The two figures an account list shows for each account."""

    conversations: int = 0
    messages: int = 0


class Stats(ABC):
    """Per-account figures, kept up to date by the units of work that change messages and threads.

    Reads cost no scan of the messages, whatever the size of the history.
    """

    @abstractmethod
    def of(self, user_id: str, *, since_day: str) -> UserStats:
        """The account's figures, `by_day` from `since_day` ("YYYY-MM-DD") on."""

    @abstractmethod
    def totals(self, user_ids: Sequence[str]) -> dict[str, AccountTotals]:
        """Conversations and messages of many accounts at once (an unknown id counts zero)."""


@dataclass(frozen=True)
class SearchHit:
    """A title (`message_id` None) or a message that matches a query, with the text it matched in."""

    conversation: ConversationRecord
    message_id: str | None
    role: MessageRole | None
    text: str
    created_at: str


class SearchIndex(ABC):
    """A user's titles and messages by word, kept up to date by the units that change them.

    Each backend updates it inside the unit of work that adds, renames, clears or deletes
    (threads, messages, accounts), so a committed message is found at once and a deleted
    one never again. Searches see what is committed.
    """

    @abstractmethod
    def search(self, user_id: str, query: SearchQuery, *, limit: int, offset: int) -> Page[SearchHit]:
        """The user's titles and messages matching every term of `query`, newest first."""


@dataclass(frozen=True, slots=True)  # slots: TinyDB keeps one per ledger line in memory
class UsageTotals:
    """Sums over ledger lines; `cost` stays None until some answer reported one."""

    messages: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost: float | None = None

    @classmethod
    def of(cls, line: UsageRecord) -> UsageTotals:
        """The figures of one ledger line."""
        return cls(
            line["messages"],
            line["prompt_tokens"],
            line["completion_tokens"],
            line["total_tokens"],
            line["cost"],
        )

    def plus(self, other: UsageTotals) -> UsageTotals:
        """Both added up."""
        cost = None if self.cost is None and other.cost is None else (self.cost or 0.0) + (other.cost or 0.0)
        return UsageTotals(
            self.messages + other.messages,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
            cost,
        )


class UsageLedger(ABC):
    """Tokens spent, per account, UTC day and answering model: kept up as turns are stored, so a
    report reads a few lines instead of every message. A deleted thread's lines stay; a deleted
    account's go with it (`Accounts.delete`)."""

    @abstractmethod
    def record(self, user_id: str, conversation_id: str, day: str, model: str, usage: Usage | None) -> None:
        """Count one answer (and its usage, when the upstream reported one) on that day's line.

        Call it in the unit that appends the answer, with the answer's own model, usage and day
        (its `created_at`): TinyDB counts live threads from their stored answers at start-up.
        """

    @abstractmethod
    def record_unstored(self, user_id: str, day: str, model: str, usage: Usage | None) -> None:
        """Count the tokens of a model call whose answer no message keeps (an automatic title).

        Its line's `messages` does not move (it answered no message). Unlike `record`, nothing
        has to be stored with it for the count to survive a restart.
        """

    @abstractmethod
    def lines(self, user_id: str, first_day: str, last_day: str) -> list[UsageRecord]:
        """The account's lines from `first_day` to `last_day` (YYYY-MM-DD, inclusive), by day then model."""

    @abstractmethod
    def totals(self, first_day: str, last_day: str) -> dict[str, UsageTotals]:
        """Every account's sums over those days; accounts that spent nothing are absent."""

    @abstractmethod
    def total_tokens(self, user_ids: Collection[str]) -> dict[str, int]:
        """All-time tokens of each account asked for, 0 for those that spent none (one batched read)."""
