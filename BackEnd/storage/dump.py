"""The dump file: `{"format": "assistantia-dump", "version": 1, users, conversations, messages}`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import RestoreError
from ..records import is_valid_id, utc_now
from .base import Dump
from .files import write_durably

__all__ = ["DUMP_FORMAT", "DUMP_VERSION", "read_dump", "write_dump"]

DUMP_FORMAT = "assistantia-dump"
DUMP_VERSION = 1

_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "users": {
        "id": (str,),
        "email": (str,),
        "name": (str, type(None)),
        "role": (str,),
        "password_hash": (str,),
        "created_at": (str,),
    },
    "conversations": {
        "id": (str,),
        "user_id": (str,),
        "title": (str,),
        "created_at": (str,),
        "updated_at": (str,),
    },
    "messages": {
        "id": (str,),
        "conversation_id": (str,),
        "user_id": (str,),
        "role": (str,),
        "content": (str,),
        "created_at": (str,),
    },
}
_ALLOWED_VALUES = {("users", "role"): {"user", "admin"}, ("messages", "role"): {"user", "assistant"}}
_ID_PREFIXES = {"users": "usr", "conversations": "conv", "messages": "msg"}


def write_dump(path: Path, dump: Dump) -> None:
    """Write a dump durably (it is a backup)."""
    document = {
        "format": DUMP_FORMAT,
        "version": DUMP_VERSION,
        "exported_at": utc_now(),
        "users": dump.users,
        "conversations": dump.conversations,
        "messages": dump.messages,
    }
    write_durably(path, json.dumps(document, ensure_ascii=False).encode("utf-8"))


def read_dump(path: Path) -> Dump:
    """Parse and check a dump file; RestoreError says what is wrong and where."""
    try:
        document = json.loads(path.read_bytes())
    except OSError as exc:
        raise RestoreError(f"cannot read {path}: {exc.strerror}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RestoreError(f"{path} is not valid JSON ({exc})") from exc
    if not isinstance(document, dict) or document.get("format") != DUMP_FORMAT:
        raise RestoreError(f'{path} is not an AssistantIA dump ("format" must be {DUMP_FORMAT!r})')
    if document.get("version") != DUMP_VERSION:
        raise RestoreError(
            f"{path} has dump version {document.get('version')!r}; this server reads {DUMP_VERSION}"
        )
    lists = {name: _records(document, name) for name in _FIELDS}
    _check_references(lists)
    return Dump(users=lists["users"], conversations=lists["conversations"], messages=lists["messages"])  # type: ignore[arg-type]


def _records(document: dict[str, Any], name: str) -> list[dict[str, Any]]:
    records = document.get(name)
    if not isinstance(records, list):
        raise RestoreError(f"the dump has no {name!r} list")
    fields = _FIELDS[name]
    seen: set[str] = set()
    checked = []
    for index, record in enumerate(records):
        where = f"{name}[{index}]"
        if not isinstance(record, dict):
            raise RestoreError(f"{where} is not an object")
        for field_name, types in fields.items():
            if not isinstance(record.get(field_name), types):
                raise RestoreError(f"{where} has no valid {field_name!r}")
            allowed = _ALLOWED_VALUES.get((name, field_name))
            if allowed is not None and record[field_name] not in allowed:
                raise RestoreError(
                    f"{where} has {field_name} {record[field_name]!r}; expected one of {sorted(allowed)}"
                )
        if not is_valid_id(_ID_PREFIXES[name], record["id"]):
            raise RestoreError(f"{where} has a malformed id {record['id']!r}")
        if record["id"] in seen:
            raise RestoreError(f"{where} repeats the id {record['id']!r}")
        seen.add(record["id"])
        checked.append({field_name: record[field_name] for field_name in fields})
    return checked


def _check_references(lists: dict[str, list[dict[str, Any]]]) -> None:
    emails = [user["email"] for user in lists["users"]]
    if len(set(emails)) != len(emails):
        raise RestoreError("two users in the dump share an email")
    users = {user["id"] for user in lists["users"]}
    owners: dict[str, str] = {}
    for index, conversation in enumerate(lists["conversations"]):
        if conversation["user_id"] not in users:
            raise RestoreError(f"conversations[{index}] belongs to unknown user {conversation['user_id']!r}")
        owners[conversation["id"]] = conversation["user_id"]
    for index, message in enumerate(lists["messages"]):
        if owners.get(message["conversation_id"]) != message["user_id"]:
            raise RestoreError(f"messages[{index}] points to an unknown conversation or the wrong owner")
