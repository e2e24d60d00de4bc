"""One record of a dump checked and put in the shape backends store: each check names the record."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ..emails import normalise_email
from ..errors import RestoreError
from ..record_checks import RECORD_FIELDS, record_problem, stored_conversation
from ..records import ACCOUNT_DEFAULTS, RecordKind, is_storable_text, is_valid_stamp, with_account_defaults
from .file_store import StoredFile
from .usage_files import usage_problem

__all__ = ["KINDS", "audit_event", "file_of", "ledger_line", "record_of"]

# Each list of the dump that holds records of one kind.
KINDS: dict[str, RecordKind] = {"users": "user", "conversations": "conversation", "messages": "message"}

_USAGE_FIELDS = (
    "user_id",
    "day",
    "model",
    "messages",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cost",
)
_AUDIT_TEXT = ("at", "action", "detail")
_AUDIT_OPTIONAL_TEXT = ("actor_id", "actor_email", "target_id", "target_email")
_FILE_TEXTS = ("id", "user_id", "conversation_id", "message_id", "content_type", "data")


def record_of(
    name: str, index: int, record: Any, check_text: bool, *, checked: bool = False
) -> dict[str, Any]:
    """A user, conversation or message as backends store it (emails normalised); RestoreError if bad.

    `check_text`: look for text no backend can store (costly: only when the file may hold some).
    `checked`: the record passed the checks already (a restore's second reading), only shape it.
    """
    kind = KINDS[name]
    problem = None if checked else record_problem(kind, record) or _value_problem(kind, record, check_text)
    if problem is not None:
        raise RestoreError(f"{name}[{index}] {problem}")
    if kind == "conversation":
        return stored_conversation(record)
    if kind == "message":
        return {field: record.get(field) for field in RECORD_FIELDS[kind]}
    account: dict[str, Any] = dict(with_account_defaults(record))
    user = {field: account.get(field) for field in (*RECORD_FIELDS[kind], *ACCOUNT_DEFAULTS)}
    try:
        user["email"] = normalise_email(str(user["email"]))
    except ValueError as exc:
        raise RestoreError(
            f"users[{index}] has an email the server refuses, {record['email']!r}: {exc}"
        ) from exc
    return user


def ledger_line(index: int, line: Any) -> dict[str, Any]:
    """A usage line, its fields checked (its owner is checked by the reader)."""
    problem = usage_problem(line) if isinstance(line, dict) else "is not an object"
    if problem is None and not is_storable_text(line["model"]):
        problem = "has a model name that cannot be stored"
    if problem is not None:
        raise RestoreError(f"usage[{index}] {problem}")
    return {field: line.get(field) for field in _USAGE_FIELDS}


def audit_event(index: int, event: Any) -> dict[str, Any]:
    """An audit event: text fields, storable, a valid time."""
    if not isinstance(event, dict):
        raise RestoreError(f"audit[{index}] is not an object")
    for field in (*_AUDIT_TEXT, *_AUDIT_OPTIONAL_TEXT):
        value = event.get(field)
        allowed_none = field in _AUDIT_OPTIONAL_TEXT and value is None
        if not allowed_none and not (isinstance(value, str) and is_storable_text(value)):
            raise RestoreError(f"audit[{index}] has no valid {field!r}")
    if not is_valid_stamp(event["at"]):
        raise RestoreError(f"audit[{index}] has a malformed at {event['at']!r}")
    return {field: event.get(field) for field in (*_AUDIT_TEXT, *_AUDIT_OPTIONAL_TEXT)}


def file_of(index: int, entry: Any) -> StoredFile:
    """A stored file, its bytes decoded (whether a message names it is checked by the reader)."""
    if not isinstance(entry, dict) or not all(isinstance(entry.get(name), str) for name in _FILE_TEXTS):
        raise RestoreError(f"files[{index}] is not an object of {', '.join(_FILE_TEXTS)}")
    try:
        data = base64.b64decode(entry["data"], validate=True)
    except binascii.Error as exc:
        raise RestoreError(f"files[{index}] has data that is not base64") from exc
    return StoredFile(
        entry["id"],
        entry["user_id"],
        entry["conversation_id"],
        entry["message_id"],
        entry["content_type"],
        data,
    )


def file_entry(file: StoredFile) -> dict[str, str]:
    """A stored file as the dump holds it."""
    return {
        "id": file.id,
        "user_id": file.user_id,
        "conversation_id": file.conversation_id,
        "message_id": file.message_id,
        "content_type": file.content_type,
        "data": base64.b64encode(file.data).decode("ascii"),
    }


def _value_problem(kind: RecordKind, record: dict[str, Any], check_text: bool) -> str | None:
    """What no backend could store, or storage would misread: bad text, malformed times."""
    texts = list(RECORD_FIELDS[kind])
    if kind == "conversation":
        texts.append("folder")
    for field in texts if check_text else ():
        value = record.get(field)
        if isinstance(value, str) and not is_storable_text(value):
            return f"has text that cannot be stored in {field!r} (half a surrogate pair or a NUL character)"
    for field in ("created_at", "updated_at"):
        if field in RECORD_FIELDS[kind] and not is_valid_stamp(record[field]):
            return f"has a malformed {field} {record[field]!r}; expected e.g. '2026-11-21T05:54:30.592745Z'"
    return None
