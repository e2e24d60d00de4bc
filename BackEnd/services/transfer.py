"""Export a thread or all of them, and import ours or ChatGPT's, in one unit of work each."""

from __future__ import annotations

import json
from typing import Any

from ..errors import InvalidInput, LimitReached, NotFoundError, UnreadableBody
from ..records import ConversationRecord, MessageRecord
from ..storage import Database
from .chatgpt_import import is_chatgpt_export, threads_from_chatgpt
from .conversations import ThreadLimits
from .interchange import FORMAT, VERSION, ImportedThread, conversation_from_json, records_for

__all__ = ["Thread", "export_all", "export_conversation", "import_conversations", "read_import"]

Thread = tuple[ConversationRecord, list[MessageRecord]]


def export_conversation(
    database: Database, user_id: str, conversation_id: str, limits: ThreadLimits
) -> Thread:
    """One of the user's threads with all its messages; NotFoundError for anyone else's."""
    with database.unit_of_work(user_id, write=False) as unit:
        conversation = unit.threads.get(user_id, conversation_id)
        page = unit.threads.messages(
            user_id, conversation_id, limit=limits.messages_per_conversation, offset=0
        )
    if conversation is None or page is None:
        raise NotFoundError("Conversation not found.")
    return conversation, page.items


def export_all(database: Database, user_id: str, limits: ThreadLimits) -> list[Thread]:
    """Every thread of the user with its messages, most recently updated first, read in one unit."""
    threads: list[Thread] = []
    with database.unit_of_work(user_id, write=False) as unit:
        listed = unit.threads.page(user_id, limit=limits.conversations_per_user, offset=0)
        for conversation in listed.items:
            page = unit.threads.messages(
                user_id, conversation["id"], limit=limits.messages_per_conversation, offset=0
            )
            threads.append((conversation, page.items if page else []))
    return threads


def read_import(body: object) -> list[ImportedThread]:
    """The threads of an import body: our export or ChatGPT's; InvalidInput naming what is wrong."""
    if is_chatgpt_export(body):
        return threads_from_chatgpt(body)
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise InvalidInput(
            f"body: expected an AssistantIA export (format {FORMAT!r}) or ChatGPT's conversations.json"
        )
    if body.get("version") != VERSION:
        raise InvalidInput(f"version: this server reads version {VERSION} of {FORMAT!r}")
    items = body.get("conversations")
    if not isinstance(items, list):
        raise InvalidInput("conversations: expected a list")
    return [conversation_from_json(item, f"conversations[{n}]") for n, item in enumerate(items)]


def import_conversations(database: Database, user_id: str, body: bytes, limits: ThreadLimits) -> list[str]:
    """Store every thread of the JSON `body` under new ids, all or none; their new ids in order."""
    try:
        parsed: Any = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise UnreadableBody("There was an error parsing the body: it is not JSON.") from exc
    threads = read_import(parsed)
    for thread in threads:
        limits.check_new_messages(0, len(thread.messages))
    ids: list[str] = []
    with database.unit_of_work(user_id) as unit:
        if unit.threads.count(user_id) + len(threads) > limits.conversations_per_user:
            raise LimitReached(
                f"Importing {len(threads)} conversations would pass the limit of "
                f"{limits.conversations_per_user}; delete some first."
            )
        for thread in threads:
            conversation, messages = records_for(user_id, thread)
            unit.threads.add(conversation)
            unit.threads.insert_dated(user_id, conversation["id"], messages)
            ids.append(conversation["id"])
    return ids
