"""Conversations and their history, always scoped to the calling user."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import LimitReached, NotFoundError
from ..records import ConversationRecord, MessageRecord, conversation_record
from ..storage import ALL_THREADS, Database, Page, ThreadQuery, UnitOfWork

__all__ = [
    "DEFAULT_TITLE",
    "ThreadLimits",
    "clear_history",
    "create_conversation",
    "delete_all_history",
    "delete_conversation",
    "get_conversation",
    "list_conversations",
    "read_history",
    "rename_conversation",
]

DEFAULT_TITLE = "Nouvelle conversation"
_NOT_FOUND = "Conversation not found."


@dataclass(frozen=True)
class ThreadLimits:
    """Per-user size caps: they keep one account's files and lists fast for everyone."""

    conversations_per_user: int = 5_000
    messages_per_conversation: int = 10_000

    def check_new_conversation(self, unit: UnitOfWork, user_id: str) -> None:
        """LimitReached if the user already has as many conversations as allowed."""
        if unit.threads.count(user_id) >= self.conversations_per_user:
            raise LimitReached(
                f"You have reached the limit of {self.conversations_per_user} conversations; "
                "delete some to start new ones."
            )

    def check_new_messages(self, stored: int, adding: int) -> None:
        """LimitReached if a thread holding `stored` messages cannot take `adding` more."""
        if stored + adding > self.messages_per_conversation:
            raise LimitReached(
                f"This conversation has reached the limit of {self.messages_per_conversation} messages; "
                "start a new conversation."
            )


def list_conversations(
    database: Database, user_id: str, *, limit: int, offset: int, query: ThreadQuery = ALL_THREADS
) -> Page[ConversationRecord]:
    """The user's threads that `query` selects, in its order (most recently updated first)."""
    with database.unit_of_work(user_id, write=False) as unit:
        return unit.threads.page(user_id, limit=limit, offset=offset, query=query)


def create_conversation(
    database: Database, user_id: str, *, title: str | None, limits: ThreadLimits
) -> ConversationRecord:
    """A new, empty thread."""
    conversation = conversation_record(user_id, title or DEFAULT_TITLE)
    with database.unit_of_work(user_id) as unit:
        limits.check_new_conversation(unit, user_id)
        unit.threads.add(conversation)  # NotFoundError if the account went since it was authenticated
    return conversation


def get_conversation(database: Database, user_id: str, conversation_id: str) -> ConversationRecord:
    """One of the user's threads; NotFoundError for anyone else's."""
    with database.unit_of_work(user_id, write=False) as unit:
        conversation = unit.threads.get(user_id, conversation_id)
    if conversation is None:
        raise NotFoundError(_NOT_FOUND)
    return conversation


def rename_conversation(
    database: Database, user_id: str, conversation_id: str, *, title: str
) -> ConversationRecord:
    """Give a thread a new title (storage stamps `updated_at`, after its last message)."""
    with database.unit_of_work(user_id) as unit:
        renamed = unit.threads.rename(user_id, conversation_id, title)
    if renamed is None:
        raise NotFoundError(_NOT_FOUND)
    return renamed


def delete_conversation(database: Database, user_id: str, conversation_id: str) -> None:
    """Delete a thread and all its messages."""
    with database.unit_of_work(user_id) as unit:
        deleted = unit.threads.delete(user_id, conversation_id)
    if not deleted:
        raise NotFoundError(_NOT_FOUND)


def read_history(
    database: Database, user_id: str, conversation_id: str, *, limit: int, offset: int
) -> Page[MessageRecord]:
    """A chronological slice of a thread's messages."""
    with database.unit_of_work(user_id, write=False) as unit:
        page = unit.threads.messages(user_id, conversation_id, limit=limit, offset=offset)
    if page is None:
        raise NotFoundError(_NOT_FOUND)
    return page


def clear_history(database: Database, user_id: str, conversation_id: str) -> None:
    """Delete a thread's messages; the thread itself stays."""
    with database.unit_of_work(user_id) as unit:
        cleared = unit.threads.clear(user_id, conversation_id)
    if not cleared:
        raise NotFoundError(_NOT_FOUND)


def delete_all_history(database: Database, user_id: str) -> None:
    """Delete every thread and message of the user."""
    with database.unit_of_work(user_id) as unit:
        unit.threads.delete_all(user_id)
