"""Generated classroom data sets, written as `assistantia-dump` files for `python main.py restore`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

__all__ = ["PASSWORD", "DataSet", "make_data_set"]

PASSWORD = "bench-password"
# About 600 bytes, the size of a typical student question or model answer.
_FILLER = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 10
_START = datetime(2026, 1, 1, tzinfo=UTC)
_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass(frozen=True)
class DataSet:
    """Who owns what in a generated set, so the bench can address real threads."""

    messages: int
    user_ids: list[str]
    emails: list[str]
    owner_of: dict[str, str]  # conversation id -> user id
    conversations_with_messages: list[str]  # in generation order
    conversations_without: list[str]


def _stamp(seconds: int) -> str:
    return (_START + timedelta(seconds=seconds)).strftime(_STAMP)


def make_data_set(
    path: Path, *, messages: int, password_hash: str, users: int = 200, threads: int = 2000
) -> DataSet:
    """Write a dump of `messages` messages spread round-robin over `threads` threads of `users` users.

    Each thread alternates user and assistant messages, and its `updated_at` is its last
    message's time, as the server keeps it.
    """
    user_ids = [f"usr_{u:06d}" for u in range(users)]
    emails = [f"student{u}@school.example" for u in range(users)]
    conversation_ids = [f"conv_{c:06d}" for c in range(threads)]
    owner_of = {conversation_id: user_ids[c % users] for c, conversation_id in enumerate(conversation_ids)}
    last_at: dict[str, str] = {}
    dump_messages = []
    for m in range(messages):
        conversation_id = conversation_ids[m % threads]
        created_at = _stamp(60 + m)
        dump_messages.append(
            {
                "id": f"msg_{m:07d}",
                "conversation_id": conversation_id,
                "user_id": owner_of[conversation_id],
                "role": "user" if (m // threads) % 2 == 0 else "assistant",
                "content": f"{m} {_FILLER}",
                "created_at": created_at,
            }
        )
        last_at[conversation_id] = created_at
    document = {
        "format": "assistantia-dump",
        "version": 1,
        "users": [
            {
                "id": user_id,
                "email": email,
                "name": email.split("@")[0],
                "role": "user",
                "password_hash": password_hash,
                "created_at": _stamp(0),
            }
            for user_id, email in zip(user_ids, emails, strict=True)
        ],
        "conversations": [
            {
                "id": conversation_id,
                "user_id": owner_of[conversation_id],
                "title": f"Thread {c}",
                "created_at": _stamp(1),
                "updated_at": last_at.get(conversation_id, _stamp(1)),
            }
            for c, conversation_id in enumerate(conversation_ids)
        ],
        # Per thread, in time order, as `python main.py dump` lists them.
        "messages": sorted(dump_messages, key=lambda message: message["conversation_id"]),
    }
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return DataSet(
        messages=messages,
        user_ids=user_ids,
        emails=emails,
        owner_of=owner_of,
        conversations_with_messages=[c for c in conversation_ids if c in last_at],
        conversations_without=[c for c in conversation_ids if c not in last_at],
    )
