"""ChatGPT's `conversations.json` read into imported threads: the branch shown, user and assistant text only.

Each conversation is a `mapping` tree of nodes (`parent`, `children`, `message`); the branch the
user last saw ends at `current_node`, so we walk from there up to the root. System, tool and
hidden messages, tool calls (an assistant message to a `recipient` other than `all`), and
non-text content (code runs, browsing, reasoning) are left out.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from ..errors import InvalidInput
from ..records import STAMP_FORMAT, utc_now
from .interchange import ImportedMessage, ImportedThread, one_line_title, text_field

__all__ = ["is_chatgpt_export", "threads_from_chatgpt"]

_TEXT_CONTENT = frozenset({"text", "multimodal_text"})
_LATEST = 253402300799.0  # 9999-12-31T23:59:59Z: beyond it no stamp can be written


def is_chatgpt_export(body: object) -> bool:
    """Whether `body` looks like ChatGPT's export (a list of conversations with a `mapping`)."""
    items = body if isinstance(body, list) else [body]
    return bool(items) and all(isinstance(item, dict) and "mapping" in item for item in items)


def _stamp(value: object, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInput(f"{where}: expected a number of seconds since 1970 or null")
    if not 0 <= value <= _LATEST:
        raise InvalidInput(f"{where}: a time out of range")
    return datetime.fromtimestamp(value, UTC).strftime(STAMP_FORMAT)


def _branch(conversation: dict[str, Any], where: str) -> list[tuple[str, dict[str, Any]]]:
    """The nodes from the root down to `current_node`."""
    mapping = conversation.get("mapping")
    if not isinstance(mapping, dict):
        raise InvalidInput(f"{where}.mapping: expected an object of nodes")
    node_id = conversation.get("current_node")
    if node_id is None and not mapping:
        return []
    if not isinstance(node_id, str) or node_id not in mapping:
        raise InvalidInput(f"{where}.current_node: not a node of the mapping")
    path: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    while node_id is not None:
        if not isinstance(node_id, str) or node_id not in mapping:
            raise InvalidInput(f"{where}.mapping: node {str(node_id)[:80]!r} is missing")
        if node_id in seen:
            raise InvalidInput(f"{where}.mapping[{node_id[:80]!r}]: its parents loop back to it")
        seen.add(node_id)
        node = mapping[node_id]
        if not isinstance(node, dict):
            raise InvalidInput(f"{where}.mapping[{node_id[:80]!r}]: expected an object")
        path.append((node_id, node))
        node_id = node.get("parent")
    return path[::-1]


def _message(
    node_id: str, node: dict[str, Any], where: str, default_model: str | None
) -> ImportedMessage | None:
    here = f"{where}.mapping[{node_id[:80]!r}].message"
    message = node.get("message")
    if message is None:
        return None
    if not isinstance(message, dict):
        raise InvalidInput(f"{here}: expected an object or null")
    author = message.get("author")
    role = author.get("role") if isinstance(author, dict) else None
    found_metadata = message.get("metadata")
    metadata: dict[str, Any] = found_metadata if isinstance(found_metadata, dict) else {}
    content = message.get("content")
    if role not in ("user", "assistant") or metadata.get("is_visually_hidden_from_conversation"):
        return None
    if message.get("recipient") not in (None, "all") or not isinstance(content, dict):
        return None
    if content.get("content_type") not in _TEXT_CONTENT:
        return None
    parts = content.get("parts")
    if not isinstance(parts, list):
        raise InvalidInput(f"{here}.content.parts: expected a list")
    texts = [
        text_field({"part": part}, "part", f"{here}.content.parts[{n}]")
        for n, part in enumerate(parts)
        if isinstance(part, str)  # null parts and attachments (objects) carry no text
    ]
    text = "\n".join(part for part in texts if part and part.strip())
    if not text:
        return None
    model = metadata.get("model_slug") if role == "assistant" else None
    created_at = _stamp(message.get("create_time"), f"{here}.create_time")
    return ImportedMessage(
        role=role,
        content=text,
        created_at=created_at or "",  # filled from its neighbours below
        model=(model if isinstance(model, str) else default_model) if role == "assistant" else None,
    )


def _thread(conversation: object, where: str) -> ImportedThread:
    if not isinstance(conversation, dict):
        raise InvalidInput(f"{where}: expected an object")
    title = conversation.get("title")
    if title is not None and not isinstance(title, str):
        raise InvalidInput(f"{where}.title: expected a string or null")
    default_model = conversation.get("default_model_slug")
    default_model = default_model if isinstance(default_model, str) else None
    created_at = _stamp(conversation.get("create_time"), f"{where}.create_time")
    updated_at = _stamp(conversation.get("update_time"), f"{where}.update_time")
    found = [_message(node_id, node, where, default_model) for node_id, node in _branch(conversation, where)]
    kept = [message for message in found if message is not None]
    # Times in order, as history order is time order: a missing or earlier time takes the last one.
    last = (
        created_at or next((message.created_at for message in kept if message.created_at), None) or utc_now()
    )
    created_at = min(created_at or last, last)
    messages: list[ImportedMessage] = []
    for message in kept:
        last = max(last, message.created_at or last)
        messages.append(ImportedMessage(message.role, message.content, last, message.model))
    return ImportedThread(
        title=one_line_title(title),
        created_at=created_at,
        updated_at=max(updated_at or created_at, last),
        messages=messages,
    )


def threads_from_chatgpt(body: object) -> list[ImportedThread]:
    """Every conversation of a ChatGPT export (a list, or one conversation on its own)."""
    items = body if isinstance(body, list) else [body]
    return [_thread(item, f"conversations[{n}]") for n, item in enumerate(items)]
