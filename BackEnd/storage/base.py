"""The storage contract every backend implements; every lookup is scoped to its owner."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..records import ConversationRecord, MessageRecord, Role, UserRecord

__all__ = ["Database", "Dump", "Page"]

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One slice of a longer list, with the length of the whole list."""

    items: list[T]
    total: int


@dataclass
class Dump:
    """The whole database as plain records: the backup and migration format."""

    users: list[UserRecord]
    conversations: list[ConversationRecord]
    messages: list[MessageRecord]


class Database(ABC):
    """What the services need from storage; backends are thread-safe and durable.

    A method that returns normally has made its change durable. Methods taking a
    `user_id` never see objects of another user: those look exactly like missing ones.
    """

    # -- users ---------------------------------------------------------------------------
    @abstractmethod
    def get_user(self, user_id: str) -> UserRecord | None:
        """The account with this id, read fresh from storage."""

    @abstractmethod
    def get_user_by_email(self, email: str) -> UserRecord | None:
        """The account with this (already normalised) email."""

    @abstractmethod
    def list_users(self) -> list[UserRecord]:
        """Every account, oldest first."""

    @abstractmethod
    def add_user(self, user: UserRecord) -> None:
        """Store a new account; EmailAlreadyRegistered if the email is taken."""

    @abstractmethod
    def set_role(self, email: str, role: Role) -> UserRecord | None:
        """Change an account's role; None if no account has this email."""

    @abstractmethod
    def delete_user(self, user_id: str) -> bool:
        """Delete an account with all its conversations and messages; False if absent."""

    # -- conversations -------------------------------------------------------------------
    @abstractmethod
    def list_conversations(self, user_id: str, *, limit: int, offset: int) -> Page[ConversationRecord]:
        """The user's conversations, most recently updated first."""

    @abstractmethod
    def get_conversation(self, user_id: str, conversation_id: str) -> ConversationRecord | None:
        """One of the user's conversations."""

    @abstractmethod
    def add_conversation(self, conversation: ConversationRecord) -> None:
        """Store a new, empty conversation."""

    @abstractmethod
    def rename_conversation(
        self, user_id: str, conversation_id: str, *, title: str, updated_at: str
    ) -> ConversationRecord | None:
        """Set a conversation's title; None if the user has no such conversation."""

    @abstractmethod
    def delete_conversation(self, user_id: str, conversation_id: str) -> bool:
        """Delete a conversation and its messages; False if the user has no such one."""

    @abstractmethod
    def delete_conversations(self, user_id: str) -> int:
        """Delete all the user's conversations and messages; returns how many threads went."""

    # -- messages ------------------------------------------------------------------------
    @abstractmethod
    def list_messages(
        self, user_id: str, conversation_id: str, *, limit: int, offset: int
    ) -> Page[MessageRecord] | None:
        """A chronological slice of a thread; None if the user has no such conversation."""

    @abstractmethod
    def recent_messages(self, user_id: str, conversation_id: str, count: int) -> list[MessageRecord] | None:
        """The last `count` messages of a thread, oldest first; None if no such conversation."""

    @abstractmethod
    def clear_messages(self, user_id: str, conversation_id: str) -> bool:
        """Delete a thread's messages but keep the thread; False if no such conversation."""

    @abstractmethod
    def add_turn(
        self,
        user_id: str,
        conversation_id: str,
        messages: list[MessageRecord],
        *,
        new_conversation: ConversationRecord | None = None,
    ) -> ConversationRecord | None:
        """Append one chat turn's messages all together and bump `updated_at`.

        The messages' `created_at` is set here, in commit order, so a thread's history is
        in time order and `updated_at` equals its last message's time.

        With `new_conversation` the thread is created in the same step, so a failed turn
        leaves no empty thread behind. Returns None (storing nothing) if the existing
        conversation vanished meanwhile.
        """

    # -- whole database ------------------------------------------------------------------
    @abstractmethod
    def export_dump(self) -> Dump:
        """Every record, for `python main.py dump`."""

    @abstractmethod
    def import_dump(self, dump: Dump) -> None:
        """Load a validated dump into an empty database; RestoreError if it is not empty."""

    @abstractmethod
    def close(self) -> None:
        """Release files, locks and connections."""
