"""Conversations and their history, always scoped to the calling user."""

from __future__ import annotations

from ..errors import NotFoundError
from ..records import ConversationRecord, MessageRecord, conversation_record, utc_now
from ..storage import Database, Page

__all__ = [
    "DEFAULT_TITLE",
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


def list_conversations(
    database: Database, user_id: str, *, limit: int, offset: int
) -> Page[ConversationRecord]:
    """The user's threads, most recently updated first."""
    return database.list_conversations(user_id, limit=limit, offset=offset)


def create_conversation(database: Database, user_id: str, *, title: str | None) -> ConversationRecord:
    """A new, empty thread."""
    conversation = conversation_record(user_id, title or DEFAULT_TITLE)
    database.add_conversation(conversation)
    return conversation


def get_conversation(database: Database, user_id: str, conversation_id: str) -> ConversationRecord:
    """One of the user's threads; NotFoundError for anyone else's."""
    conversation = database.get_conversation(user_id, conversation_id)
    if conversation is None:
        raise NotFoundError(_NOT_FOUND)
    return conversation


def rename_conversation(
    database: Database, user_id: str, conversation_id: str, *, title: str
) -> ConversationRecord:
    """Give a thread a new title."""
    renamed = database.rename_conversation(user_id, conversation_id, title=title, updated_at=utc_now())
    if renamed is None:
        raise NotFoundError(_NOT_FOUND)
    return renamed


def delete_conversation(database: Database, user_id: str, conversation_id: str) -> None:
    """Delete a thread and all its messages."""
    if not database.delete_conversation(user_id, conversation_id):
        raise NotFoundError(_NOT_FOUND)


def read_history(
    database: Database, user_id: str, conversation_id: str, *, limit: int, offset: int
) -> Page[MessageRecord]:
    """A chronological slice of a thread's messages."""
    page = database.list_messages(user_id, conversation_id, limit=limit, offset=offset)
    if page is None:
        raise NotFoundError(_NOT_FOUND)
    return page


def clear_history(database: Database, user_id: str, conversation_id: str) -> None:
    """Delete a thread's messages; the thread itself stays."""
    if not database.clear_messages(user_id, conversation_id):
        raise NotFoundError(_NOT_FOUND)


def delete_all_history(database: Database, user_id: str) -> None:
    """Delete every thread and message of the user."""
    database.delete_conversations(user_id)
