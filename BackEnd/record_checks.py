"""How a stored record is checked wherever it comes from, and the defaults older records read back with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .organising import ORGANISING_DEFAULTS, organising_problem
from .records import RecordKind, is_valid_id, is_valid_stamp

__all__ = [
    "OPTIONAL_FIELDS",
    "RECORD_FIELDS",
    "STORED_CONVERSATION_FIELDS",
    "record_problem",
    "stored_conversation",
    "with_defaults",
]

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
