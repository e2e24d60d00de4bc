"""The stored record shapes: how they are made, and how a stored one is checked."""

from __future__ import annotations

import functools
import re
import secrets
import threading
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NotRequired, TypedDict

from .completion import Completion

__all__ = [
    "Preferences",
    "ACCOUNT_DEFAULTS",
    "AuditRecord",
    "ImageRef",
    "ConversationRecord",
    "MessageRecord",
    "MessageRole",
    "STAMP_FORMAT",
    "RecordKind",
    "Role",
    "UsageRecord",
    "UserRecord",
    "conversation_record",
    "is_storable_text",
    "is_valid_id",
    "is_valid_stamp",
    "message_record",
    "new_id",
    "stamp_after",
    "utc_now",
    "with_account_defaults",
]

Role = Literal["user", "admin"]
MessageRole = Literal["user", "assistant"]
RecordKind = Literal["user", "conversation", "message"]


class UserRecord(TypedDict):
    """One account, exactly as stored in users.json."""

    id: str
    email: str
    name: str | None
    role: Role
    password_hash: str
    created_at: str
    # -- classroom fields (issue 12); older files and dumps read back with ACCOUNT_DEFAULTS
    is_active: bool
    last_login_at: str | None
    credits: int | None  # None: unlimited
    # Tokens carry the generation they were issued in; bumping it refuses every older one.
    token_generation: int
    # -- model preferences (issue 9): absent until the account sets some (PATCH /auth/me)
    preferences: NotRequired[Preferences | None]


class Preferences(TypedDict):
    """What an account's turns use when the request names nothing (null: the server's default)."""

    model: str | None
    temperature: float | None
    system_prompt: str | None


# What an account stored before issue 12 reads back with.
ACCOUNT_DEFAULTS: dict[str, object] = {
    "is_active": True,
    "last_login_at": None,
    "credits": None,
    "token_generation": 0,
}


def with_account_defaults(doc: dict[str, object]) -> UserRecord:
    """A stored account with the fields it may lack (older data) set to their defaults."""
    return {**ACCOUNT_DEFAULTS, **doc}  # type: ignore[typeddict-item]


class AuditRecord(TypedDict):
    """One administrative action; `actor_*` are None for the command line. Never a secret."""

    at: str
    actor_id: str | None
    actor_email: str | None
    action: str
    target_id: str | None
    target_email: str | None
    detail: str


class ConversationRecord(TypedDict):
    """One thread; `updated_at` moves with every turn and rename (not with the organising fields).

    `message_count` and `preview` are kept by storage as messages come and go; they are read
    with the thread and never stored from a request.
    """

    id: str
    user_id: str
    title: str
    created_at: str
    updated_at: str
    # -- organising (issue 11): absent from older data, read back with ORGANISING_DEFAULTS
    is_favorite: bool
    archived: bool
    folder: str | None
    tags: list[str]
    # -- kept by storage
    message_count: int
    preview: str | None


class MessageRecord(TypedDict):
    """One message; `user_id` repeats the owner so every file describes itself."""

    id: str
    conversation_id: str
    user_id: str
    role: MessageRole
    content: str
    created_at: str
    # -- what answered (issue 9): set on assistant messages; null on user messages, absent on old data
    model: NotRequired[str | None]
    finish_reason: NotRequired[str | None]
    usage: NotRequired[dict[str, Any] | None]
    # -- images (issue 10 part 3): on user messages; null or absent when the message has none
    images: NotRequired[list[ImageRef] | None]
    # -- turns (issue 10): the user message an answer replies to (null on user messages and on
    # answers stored before; those follow their question), and when a regenerate or edit changed it
    reply_to: NotRequired[str | None]
    edited_at: NotRequired[str | None]


class ImageRef(TypedDict):
    """An image of a message: a stored file (`url` /files/{id}) or a remote one (id, type, bytes null)."""

    id: str | None
    url: str
    content_type: str | None
    bytes: int | None


class UsageRecord(TypedDict):
    """One line of the usage ledger: what an account's answers by one model cost on one UTC day.

    Kept as turns are stored and kept when their thread is deleted; `cost` sums the costs the
    upstream reported (null while it reported none).
    """

    user_id: str
    day: str  # YYYY-MM-DD
    model: str
    messages: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: float | None


@functools.cache
def _id_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(re.escape(prefix) + r"_[A-Za-z0-9_-]{1,64}")


def is_valid_id(prefix: str, value: object) -> bool:
    """Whether `value` looks like an id we make (`usr_…`); ids end up in file names."""
    return isinstance(value, str) and _id_pattern(prefix).fullmatch(value) is not None


def new_id(prefix: str) -> str:
    """A random, URL-safe id such as `conv_3f2a...`; 128 bits so it cannot be guessed."""
    return f"{prefix}_{secrets.token_hex(16)}"


# Fixed width, so string order is time order (storage sorts and compares these strings).
STAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_STAMP_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z", re.ASCII)
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
        return _last_moment.strftime(STAMP_FORMAT)


def stamp_after(last: str) -> str:
    """The time of a thread's next change: now, or a microsecond after `last` if that is later.

    Storage calls it under the thread's lock, so a thread's times follow its commit order
    even across processes whose clocks differ slightly, or after a restore from the future.
    """
    now = utc_now()
    if now > last:
        return now
    try:
        moment = datetime.strptime(last, STAMP_FORMAT) + timedelta(microseconds=1)
    except ValueError:  # a hand-made time: only this clock can order the change
        return now
    return moment.strftime(STAMP_FORMAT)


def is_valid_stamp(value: object) -> bool:
    """Whether `value` is a time in STAMP_FORMAT, exactly as `utc_now` writes it (a real date)."""
    if not isinstance(value, str) or _STAMP_SHAPE.fullmatch(value) is None:
        return False
    try:  # the shape is right; fromisoformat (fast, in C) checks the month, day and hour exist
        datetime.fromisoformat(value[:-1])
    except ValueError:
        return False
    return True


def is_storable_text(value: str) -> bool:
    """Whether every backend can store this text: no lone surrogate (not UTF-8) and no NUL
    (PostgreSQL's text cannot hold it)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def conversation_record(user_id: str, title: str, *, at: str | None = None) -> ConversationRecord:
    """A new thread, created and updated `at` (now by default)."""
    at = at or utc_now()
    return {
        "id": new_id("conv"),
        "user_id": user_id,
        "title": title,
        "created_at": at,
        "updated_at": at,
        "is_favorite": False,
        "archived": False,
        "folder": None,
        "tags": [],
        "message_count": 0,
        "preview": None,
    }


def message_record(
    user_id: str,
    conversation_id: str,
    role: MessageRole,
    content: str,
    *,
    completion: Completion | None = None,
    message_id: str | None = None,
    images: list[ImageRef] | None = None,
    reply_to: str | None = None,
) -> MessageRecord:
    """A new message of a thread, stamped now; an answer carries its `completion`'s model and usage.

    `message_id` is given when the id was announced before the answer came (a stream's `start`).
    """
    usage = completion.usage if completion is not None else None
    return {
        "id": message_id or new_id("msg"),
        "conversation_id": conversation_id,
        "user_id": user_id,
        "role": role,
        "content": content,
        "created_at": utc_now(),
        "model": completion.model if completion is not None else None,
        "finish_reason": completion.finish_reason if completion is not None else None,
        "usage": usage.as_dict() if usage is not None else None,
        "images": images or None,
        "reply_to": reply_to,
        "edited_at": None,
    }
