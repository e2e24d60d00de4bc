"""Conversations as portable JSON: our interchange shape, written and read through one function each way.

A new field of conversations or messages is added in `conversation_to_json`/`message_to_json`
(export) and `conversation_from_json`/`message_from_json` + `records_for` (import), nowhere else.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, cast

from ..errors import InvalidInput
from ..organising import MAX_FOLDER_CHARS, normalise_tags
from ..records import (
    ConversationRecord,
    MessageRecord,
    MessageRole,
    is_valid_stamp,
    new_id,
)
from ..schemas import MAX_TITLE_CHARS
from .conversations import DEFAULT_TITLE

__all__ = [
    "FORMAT",
    "VERSION",
    "ImportedMessage",
    "ImportedThread",
    "conversation_from_json",
    "conversation_to_json",
    "document",
    "message_from_json",
    "message_to_json",
    "one_line_title",
    "records_for",
    "text_field",
]

FORMAT = "assistantia-conversations"
VERSION = 1


@dataclass(frozen=True)
class ImportedMessage:
    """A message read from an import, before it gets its new id."""

    role: MessageRole
    content: str
    created_at: str
    model: str | None = None
    finish_reason: str | None = None


@dataclass(frozen=True)
class ImportedThread:
    """A conversation read from an import, its messages in time order."""

    title: str
    created_at: str
    updated_at: str
    messages: list[ImportedMessage]
    is_favorite: bool = False
    archived: bool = False
    folder: str | None = None
    tags: tuple[str, ...] = ()


# -- out -------------------------------------------------------------------------------------
def message_to_json(message: MessageRecord) -> dict[str, Any]:
    """One message in the interchange shape."""
    stored = cast(dict[str, Any], message)
    return {
        "role": message["role"],
        "content": message["content"],
        "created_at": message["created_at"],
        "model": stored.get("model"),
        "finish_reason": stored.get("finish_reason"),
        "usage": stored.get("usage"),  # exported for the record; an import does not count it as spent here
    }


def conversation_to_json(conversation: ConversationRecord, messages: list[MessageRecord]) -> dict[str, Any]:
    """One conversation and its messages in the interchange shape (no ids: an import makes new ones)."""
    return {
        "title": conversation["title"],
        "created_at": conversation["created_at"],
        "updated_at": conversation["updated_at"],
        "is_favorite": conversation["is_favorite"],
        "archived": conversation["archived"],
        "folder": conversation["folder"],
        "tags": list(conversation["tags"]),
        "messages": [message_to_json(message) for message in messages],
    }


def document(conversations: list[dict[str, Any]], *, exported_at: str) -> dict[str, Any]:
    """The exported file: what `POST /conversations/import` takes back."""
    return {"format": FORMAT, "version": VERSION, "exported_at": exported_at, "conversations": conversations}


# -- in --------------------------------------------------------------------------------------
def text_field(doc: dict[str, Any], field: str, where: str, *, optional: bool = False) -> str | None:
    """A string field that storage can hold (valid Unicode, no NUL); InvalidInput naming it otherwise."""
    value = doc.get(field)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{where}.{field}: expected a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{where}.{field}: contains invalid Unicode (a lone surrogate)") from None
    if "\x00" in value:
        raise InvalidInput(f"{where}.{field}: contains a NUL character")
    return value


def _stamp(doc: dict[str, Any], field: str, where: str) -> str:
    value = doc.get(field)
    if not is_valid_stamp(value):
        raise InvalidInput(f"{where}.{field}: expected a time such as 2026-01-31T12:00:00.000000Z")
    return cast(str, value)


def one_line_title(title: str | None) -> str:
    """A stored title: one line, at most MAX_TITLE_CHARS, the default when blank."""
    flat = " ".join("".join(" " if unicodedata.category(c) == "Cc" else c for c in title or "").split())
    return flat[:MAX_TITLE_CHARS].strip() or DEFAULT_TITLE


def message_from_json(doc: object, where: str) -> ImportedMessage:
    """One message of our interchange shape; InvalidInput naming the field that is wrong."""
    if not isinstance(doc, dict):
        raise InvalidInput(f"{where}: expected an object")
    role = doc.get("role")
    if role not in ("user", "assistant"):
        raise InvalidInput(f"{where}.role: expected 'user' or 'assistant'")
    return ImportedMessage(
        role=role,
        content=cast(str, text_field(doc, "content", where)),
        created_at=_stamp(doc, "created_at", where),
        model=text_field(doc, "model", where, optional=True),
        finish_reason=_finish_reason(doc, where),
    )


def _finish_reason(doc: dict[str, Any], where: str) -> str | None:
    reason = text_field(doc, "finish_reason", where, optional=True)
    if reason is not None and not (1 <= len(reason) <= 40 and reason.isprintable()):
        raise InvalidInput(f"{where}.finish_reason: expected a short label such as 'stop', or null")
    return reason


def conversation_from_json(doc: object, where: str) -> ImportedThread:
    """One conversation of our interchange shape; its messages must be in time order."""
    if not isinstance(doc, dict):
        raise InvalidInput(f"{where}: expected an object")
    items = doc.get("messages")
    if not isinstance(items, list):
        raise InvalidInput(f"{where}.messages: expected a list")
    messages = [message_from_json(item, f"{where}.messages[{n}]") for n, item in enumerate(items)]
    for n in range(1, len(messages)):
        if messages[n].created_at < messages[n - 1].created_at:
            raise InvalidInput(f"{where}.messages[{n}].created_at: before the message above it")
    created_at = _stamp(doc, "created_at", where)
    updated_at = _stamp(doc, "updated_at", where)
    return ImportedThread(
        title=one_line_title(text_field(doc, "title", where)),
        created_at=min([created_at, *(message.created_at for message in messages[:1])]),
        updated_at=max([updated_at, created_at, *(message.created_at for message in messages[-1:])]),
        messages=messages,
        is_favorite=_flag(doc, "is_favorite", where),
        archived=_flag(doc, "archived", where),
        folder=_folder(doc, where),
        tags=_tags(doc, where),
    )


# The organising fields are optional: ChatGPT's export and older files of ours have none.
def _flag(doc: dict[str, Any], field: str, where: str) -> bool:
    value = doc.get(field, False)
    if not isinstance(value, bool):
        raise InvalidInput(f"{where}.{field}: expected true or false")
    return value


def _folder(doc: dict[str, Any], where: str) -> str | None:
    folder = text_field(doc, "folder", where, optional=True)
    if folder is None:
        return None
    folder = " ".join(folder.split())
    if not 1 <= len(folder) <= MAX_FOLDER_CHARS:
        raise InvalidInput(f"{where}.folder: expected 1 to {MAX_FOLDER_CHARS} characters, or null")
    return folder


def _tags(doc: dict[str, Any], where: str) -> tuple[str, ...]:
    tags = doc.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise InvalidInput(f"{where}.tags: expected a list of strings")
    try:
        return tuple(normalise_tags(" ".join(tag.split()) for tag in tags))
    except ValueError as exc:
        raise InvalidInput(f"{where}.tags: {exc}") from exc


def records_for(user_id: str, thread: ImportedThread) -> tuple[ConversationRecord, list[MessageRecord]]:
    """The records of an imported thread, with new ids, owned by `user_id`."""
    conversation: ConversationRecord = {
        "id": new_id("conv"),
        "user_id": user_id,
        "title": thread.title,
        "created_at": thread.created_at,
        "updated_at": thread.updated_at,
        "is_favorite": thread.is_favorite,
        "archived": thread.archived,
        "folder": thread.folder,
        "tags": list(thread.tags),
        "message_count": 0,  # storage counts the messages as they are added
        "preview": None,
    }
    messages: list[MessageRecord] = []
    asked: str | None = None  # the question an imported answer replies to: the one before it
    for message in thread.messages:
        record: MessageRecord = {
            "id": new_id("msg"),
            "conversation_id": conversation["id"],
            "user_id": user_id,
            "role": message.role,
            "content": message.content,
            "created_at": message.created_at,
            "model": message.model,
            "finish_reason": message.finish_reason,
            # What another server (or ChatGPT) spent is not this server's spending: the usage
            # figures and credits count only answers given here.
            "usage": None,
            "reply_to": asked if message.role == "assistant" else None,
            "edited_at": None,
        }
        if message.role == "user":
            asked = record["id"]
        messages.append(record)
    return conversation, messages
