"""The stored record shapes: how they are made, and how a stored one is checked."""

from __future__ import annotations

import functools
import re
import secrets
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NotRequired, TypedDict

from .completion import Completion
from .organising import ORGANISING_DEFAULTS, organising_problem

__all__ = [
    "OPTIONAL_FIELDS",
    "RECORD_FIELDS",
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
    "STORED_CONVERSATION_FIELDS",
    "conversation_record",
    "stored_conversation",
    "is_storable_text",
    "is_valid_id",
    "is_valid_stamp",
    "message_record",
    "new_id",
    "record_problem",
    "stamp_after",
    "utc_now",
    "with_defaults",
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


_TEXT = (str,)
RECORD_FIELDS: dict[RecordKind, dict[str, tuple[type, ...]]] = {
    "user": {
        "id": _TEXT,
        "email": _TEXT,
        "name": (str, type(None)),
        "role": _TEXT,
        "password_hash": _TEXT,
        "created_at": _TEXT,
        "preferences": (dict, type(None)),
    },
    "conversation": {"id": _TEXT, "user_id": _TEXT, "title": _TEXT, "created_at": _TEXT, "updated_at": _TEXT},
    "message": {
        "id": _TEXT,
        "conversation_id": _TEXT,
        "user_id": _TEXT,
        "role": _TEXT,
        "content": _TEXT,
        "created_at": _TEXT,
        "model": (str, type(None)),
        "finish_reason": (str, type(None)),
        "usage": (dict, type(None)),
        "images": (list, type(None)),
        "reply_to": (str, type(None)),
        "edited_at": (str, type(None)),
    },
}
# Fields records written before they existed lack: they read as None.
OPTIONAL_FIELDS: dict[RecordKind, tuple[str, ...]] = {
    "user": ("preferences",),
    "conversation": (),
    "message": ("model", "finish_reason", "usage", "images", "reply_to", "edited_at"),
}
_ALLOWED_VALUES: dict[tuple[RecordKind, str], frozenset[str]] = {
    ("user", "role"): frozenset({"user", "admin"}),
    ("message", "role"): frozenset({"user", "assistant"}),
}
_ID_PREFIXES: dict[RecordKind, str] = {"user": "usr", "conversation": "conv", "message": "msg"}
# Start-up checks every stored message with this: the per-field rules are looked up once here.
_FIELD_RULES: dict[RecordKind, tuple[tuple[str, tuple[type, ...], frozenset[str] | None], ...]] = {
    kind: tuple((field, types, _ALLOWED_VALUES.get((kind, field))) for field, types in fields.items())
    for kind, fields in RECORD_FIELDS.items()
}


def record_problem(kind: RecordKind, doc: object) -> str | None:
    """Why `doc` is not a well-formed stored record of this kind (e.g. "has no valid 'email'"), or None.

    One check for every way records come in from outside the API: data files read at
    start-up, hand edits of users.json and dumps being restored.
    """
    if not isinstance(doc, dict):
        return "is not an object"
    for field, types, allowed in _FIELD_RULES[kind]:
        value = doc.get(field)
        if not isinstance(value, types):
            return f"has no valid {field!r}"
        if allowed is not None and value not in allowed:
            return f"has {field} {value!r}; expected one of {sorted(allowed)}"
    if kind == "user":
        problem = _account_field_problem(doc)
        if problem is not None:
            return problem
    if not is_valid_id(_ID_PREFIXES[kind], doc["id"]):
        return f"has a malformed id {doc['id']!r}"
    if kind == "conversation":
        return organising_problem(doc)
    if kind == "message" and doc.get("images") is not None:
        problem = _images_problem(doc["images"])
        if problem is not None:
            return problem
    if kind == "message":
        problem = _turn_field_problem(doc)
        if problem is not None:
            return problem
    if kind == "message" and doc.get("usage") is not None:
        return _usage_problem(doc["usage"])
    if kind == "user" and doc.get("preferences") is not None:
        return _preferences_problem(doc["preferences"])
    return None


def with_defaults(kind: RecordKind, doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` with every field of its kind, those it predates set to None (dumps compare equal)."""
    missing = [field for field in OPTIONAL_FIELDS[kind] if field not in doc]
    return {**doc, **dict.fromkeys(missing)} if missing else doc


def _turn_field_problem(doc: dict[str, Any]) -> str | None:
    """`reply_to` and `edited_at` (issue 10) are optional, but well-formed when present."""
    reply_to = doc.get("reply_to")
    if reply_to is not None and not is_valid_id("msg", reply_to):
        return "has a malformed 'reply_to'"
    edited_at = doc.get("edited_at")
    if edited_at is not None and not is_valid_stamp(edited_at):
        return "has no valid 'edited_at'"
    return None


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**15


def _usage_problem(usage: dict[str, Any]) -> str | None:
    counts = ("prompt_tokens", "completion_tokens", "total_tokens")
    cost = usage.get("cost")
    if set(usage) != {*counts, "cost"} or not all(_is_count(usage[name]) for name in counts):
        return "has a malformed 'usage' (expected prompt_tokens, completion_tokens, total_tokens, cost)"
    if cost is not None and (
        isinstance(cost, bool) or not isinstance(cost, int | float) or not 0 <= cost < 10**9
    ):
        return "has a malformed usage 'cost'"
    return None


_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})


def _images_problem(images: list[Any]) -> str | None:
    for image in images:
        if not (
            isinstance(image, dict)
            and set(image) == {"id", "url", "content_type", "bytes"}
            and isinstance(image["url"], str)
            and (image["id"] is None or is_valid_id("file", image["id"]))
            and (image["content_type"] is None or image["content_type"] in _IMAGE_TYPES)
            and (image["bytes"] is None or _is_count(image["bytes"]))
        ):
            return "has a malformed 'images' (expected id, url, content_type, bytes)"
    return None


def _preferences_problem(preferences: dict[str, Any]) -> str | None:
    temperature = preferences.get("temperature")
    if (
        set(preferences) != {"model", "temperature", "system_prompt"}
        or not isinstance(preferences["model"], str | None)
        or not isinstance(preferences["system_prompt"], str | None)
        or not (
            temperature is None
            or (isinstance(temperature, int | float) and not isinstance(temperature, bool))
        )
    ):
        return "has malformed 'preferences' (expected model, temperature, system_prompt)"
    return None


# What a conversation's stored form holds: storage adds message_count and preview on reading.
STORED_CONVERSATION_FIELDS = (*RECORD_FIELDS["conversation"], *ORGANISING_DEFAULTS)


def stored_conversation(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The stored fields of a conversation, absent organising ones at their defaults (a fresh tag list)."""
    stored = {field: doc.get(field, ORGANISING_DEFAULTS.get(field)) for field in STORED_CONVERSATION_FIELDS}
    stored["tags"] = list(stored["tags"] or [])
    return stored


def _account_field_problem(doc: dict[str, object]) -> str | None:
    """The classroom fields are optional (older data), but checked when present."""
    if not isinstance(doc.get("is_active", True), bool):
        return "has no valid 'is_active'"
    last_login = doc.get("last_login_at")
    if last_login is not None and not is_valid_stamp(last_login):
        return "has no valid 'last_login_at'"
    for field, nullable in (("credits", True), ("token_generation", False)):
        value = doc.get(field, None if nullable else 0)
        if value is None and nullable:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            return f"has no valid {field!r}"
    return None
