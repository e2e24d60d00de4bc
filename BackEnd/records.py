"""The stored record shapes, and how their ids and timestamps are made."""

from __future__ import annotations

import re
import secrets
import threading
from datetime import UTC, datetime, timedelta
from typing import Literal, TypedDict

__all__ = [
    "ConversationRecord",
    "MessageRecord",
    "MessageRole",
    "Role",
    "UserRecord",
    "is_valid_id",
    "new_id",
    "utc_now",
]

Role = Literal["user", "admin"]
MessageRole = Literal["user", "assistant"]


class UserRecord(TypedDict):
    """One account, exactly as stored in users.json."""

    id: str
    email: str
    name: str | None
    role: Role
    password_hash: str
    created_at: str


class ConversationRecord(TypedDict):
    """One thread; `updated_at` moves with every turn and rename."""

    id: str
    user_id: str
    title: str
    created_at: str
    updated_at: str


class MessageRecord(TypedDict):
    """One message; `user_id` repeats the owner so every file describes itself."""

    id: str
    conversation_id: str
    user_id: str
    role: MessageRole
    content: str
    created_at: str


_ID_BODY = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_valid_id(prefix: str, value: object) -> bool:
    """Whether `value` looks like an id we make (`usr_…`); ids end up in file names."""
    return (
        isinstance(value, str)
        and value.startswith(f"{prefix}_")
        and _ID_BODY.fullmatch(value[len(prefix) + 1 :]) is not None
    )


def new_id(prefix: str) -> str:
    """A random, URL-safe id such as `conv_3f2a...`; 128 bits so it cannot be guessed."""
    return f"{prefix}_{secrets.token_hex(16)}"


_STAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_clock_lock = threading.Lock()
_last_moment = datetime.min.replace(tzinfo=UTC)


def utc_now() -> str:
    """Current UTC time as fixed-width ISO 8601, strictly increasing within the process.

    Fixed width makes string order equal time order; strictly increasing keeps the order
    of two events in the same microsecond (parallel turns) unambiguous.
    """
    global _last_moment
    with _clock_lock:
        _last_moment = max(datetime.now(UTC), _last_moment + timedelta(microseconds=1))
        return _last_moment.strftime(_STAMP_FORMAT)
