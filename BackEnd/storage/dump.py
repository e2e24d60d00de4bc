"""The dump file: `{"format": "assistantia-dump", "version": 3, users, conversations, messages, usage, audit, files}`.

Version 3 adds the messages' `images`, `reply_to` and `edited_at`, and the stored image `files`
(their bytes base64); a version 2 file's messages read them as null.

Version 2 adds the conversations' organising fields (is_favorite, archived, folder, tags), the
answers' model, finish_reason and usage, the accounts' preferences and classroom fields (is_active, last_login_at, credits,
token_generation), the usage ledger and the audit trail. A
version 1 file still restores: its records take the new fields' defaults and its ledger and audit
trail start empty, as a migrated database's does.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

from ..emails import normalise_email
from ..errors import RestoreError
from ..record_checks import RECORD_FIELDS, record_problem, stored_conversation
from ..records import (
    ACCOUNT_DEFAULTS,
    RecordKind,
    is_storable_text,
    is_valid_stamp,
    utc_now,
    with_account_defaults,
)
from .base import Dump
from .file_store import StoredFile
from .files import write_durably
from .usage_files import usage_problem

__all__ = ["DUMP_FORMAT", "DUMP_VERSION", "read_dump", "write_dump"]

DUMP_FORMAT = "assistantia-dump"
DUMP_VERSION = 3
READABLE_VERSIONS = frozenset({1, 2, DUMP_VERSION})

# Each list of the dump holds records of one kind.
_KINDS: dict[str, RecordKind] = {"users": "user", "conversations": "conversation", "messages": "message"}


def write_dump(path: Path, dump: Dump) -> None:
    """Write a dump durably (it is a backup)."""
    document = {
        "format": DUMP_FORMAT,
        "version": DUMP_VERSION,
        "exported_at": utc_now(),
        "users": dump.users,
        "conversations": dump.conversations,
        "messages": dump.messages,
        "usage": dump.usage,
        "audit": dump.audit,
        "files": [_file_entry(file) for file in dump.files],
    }
    write_durably(path, json.dumps(document, ensure_ascii=False).encode("utf-8"))


def read_dump(path: Path) -> Dump:
    """Parse and check a whole dump file; RestoreError says what is wrong and where.

    Emails come back in their normalised form. Nothing is written before this returns, so a
    refused dump leaves every backend exactly as it was.
    """
    try:
        raw = path.read_bytes()
        document = json.loads(raw)
    except OSError as exc:
        raise RestoreError(f"cannot read {path}: {exc.strerror}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RestoreError(f"{path} is not valid JSON ({exc})") from exc
    if not isinstance(document, dict) or document.get("format") != DUMP_FORMAT:
        raise RestoreError(f'{path} is not an AssistantIA dump ("format" must be {DUMP_FORMAT!r})')
    version = document.get("version")
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        raise RestoreError(
            f"{path} has dump version {version!r}; this server reads versions 1 to {DUMP_VERSION}"
        )
    check_text = _may_hold_unstorable_text(raw)
    lists = {name: _records(document, name, check_text) for name in _KINDS}
    _check_references(lists)
    usage = _usage_lines(document.get("usage", []), {user["id"] for user in lists["users"]})
    audit = _audit(document.get("audit", []))
    files = _files(document.get("files", []), lists["messages"])
    return Dump(
        users=lists["users"],  # type: ignore[arg-type]
        conversations=lists["conversations"],  # type: ignore[arg-type]
        messages=lists["messages"],  # type: ignore[arg-type]
        usage=usage,  # type: ignore[arg-type]
        audit=audit,  # type: ignore[arg-type]
        files=files,
    )


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


def _usage_lines(lines: object, users: set[str]) -> list[dict[str, Any]]:
    if not isinstance(lines, list):
        raise RestoreError("the dump's 'usage' is not a list")
    seen: set[tuple[str, str, str]] = set()
    checked = []
    for index, line in enumerate(lines):
        problem = usage_problem(line) if isinstance(line, dict) else "is not an object"
        if problem is None and line["user_id"] not in users:
            problem = f"belongs to unknown user {line['user_id']!r}"
        if problem is None and not is_storable_text(line["model"]):
            problem = "has a model name that cannot be stored"
        if problem is not None:
            raise RestoreError(f"usage[{index}] {problem}")
        key = (line["user_id"], line["day"], line["model"])
        if key in seen:
            raise RestoreError(f"usage[{index}] repeats the day and model of an earlier line")
        seen.add(key)
        checked.append({field: line.get(field) for field in _USAGE_FIELDS})
    return checked


def _records(document: dict[str, Any], name: str, check_text: bool) -> list[dict[str, Any]]:
    records = document.get(name)
    if not isinstance(records, list):
        raise RestoreError(f"the dump has no {name!r} list")
    kind = _KINDS[name]
    seen: set[str] = set()
    checked = []
    for index, record in enumerate(records):
        problem = record_problem(kind, record) or _value_problem(kind, record, check_text)
        if problem is not None:
            raise RestoreError(f"{name}[{index}] {problem}")
        if record["id"] in seen:
            raise RestoreError(f"{name}[{index}] repeats the id {record['id']!r}")
        seen.add(record["id"])
        if kind == "conversation":
            checked.append(stored_conversation(record))
        elif kind == "user":
            account: dict[str, Any] = dict(with_account_defaults(record))
            checked.append({field: account.get(field) for field in (*RECORD_FIELDS[kind], *ACCOUNT_DEFAULTS)})
        else:
            checked.append({field: record.get(field) for field in RECORD_FIELDS[kind]})
    return checked


def _file_entry(file: StoredFile) -> dict[str, str]:
    return {
        "id": file.id,
        "user_id": file.user_id,
        "conversation_id": file.conversation_id,
        "message_id": file.message_id,
        "content_type": file.content_type,
        "data": base64.b64encode(file.data).decode("ascii"),
    }


def _files(entries: object, messages: list[dict[str, Any]]) -> list[StoredFile]:
    """The dump's stored files, each named by the images of the message it belongs to."""
    if not isinstance(entries, list):
        raise RestoreError("the dump's 'files' is not a list")
    named: dict[str, tuple[str, str, str, str | None]] = {
        image["id"]: (message["id"], message["user_id"], message["conversation_id"], image["content_type"])
        for message in messages
        for image in message.get("images") or ()
        if image["id"] is not None
    }
    checked: list[StoredFile] = []
    for index, entry in enumerate(entries):
        texts = ("id", "user_id", "conversation_id", "message_id", "content_type", "data")
        if not isinstance(entry, dict) or not all(isinstance(entry.get(name), str) for name in texts):
            raise RestoreError(f"files[{index}] is not an object of {', '.join(texts)}")
        owner = (entry["message_id"], entry["user_id"], entry["conversation_id"], entry["content_type"])
        if named.pop(entry["id"], None) != owner:
            raise RestoreError(f"files[{index}] is named by no message's images (or by two files)")
        try:
            data = base64.b64decode(entry["data"], validate=True)
        except binascii.Error as exc:
            raise RestoreError(f"files[{index}] has data that is not base64") from exc
        checked.append(
            StoredFile(
                entry["id"],
                entry["user_id"],
                entry["conversation_id"],
                entry["message_id"],
                entry["content_type"],
                data,
            )
        )
    return checked


_AUDIT_TEXT = ("at", "action", "detail")
_AUDIT_OPTIONAL_TEXT = ("actor_id", "actor_email", "target_id", "target_email")


def _audit(events: object) -> list[dict[str, Any]]:
    """The dump's audit trail, checked: text fields, storable, a valid time."""
    if not isinstance(events, list):
        raise RestoreError("the dump's 'audit' is not a list")
    checked = []
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise RestoreError(f"audit[{index}] is not an object")
        for field in (*_AUDIT_TEXT, *_AUDIT_OPTIONAL_TEXT):
            value = event.get(field)
            allowed_none = field in _AUDIT_OPTIONAL_TEXT and value is None
            if not allowed_none and not (isinstance(value, str) and is_storable_text(value)):
                raise RestoreError(f"audit[{index}] has no valid {field!r}")
        if not is_valid_stamp(event["at"]):
            raise RestoreError(f"audit[{index}] has a malformed at {event['at']!r}")
        checked.append({field: event.get(field) for field in (*_AUDIT_TEXT, *_AUDIT_OPTIONAL_TEXT)})
    return checked


def _may_hold_unstorable_text(raw: bytes) -> bool:
    """False when no text of the file can hold a NUL or half a surrogate pair (a quick scan).

    JSON carries them only as `\\u0000` and `\\udXXX` escapes, or, as Python's reader
    allows, as surrogates encoded in the bytes, which strict UTF-8 refuses. Checking every
    text only when one may be there saves most of a second on 100,000 messages.
    """
    if b"\\u0000" in raw or b"\\ud" in raw or b"\\uD" in raw:
        return True
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


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


def _normalise_emails(users: list[dict[str, Any]]) -> None:
    """Each email in the form the server looks it up by; one account per normalised email."""
    first_with: dict[str, int] = {}
    for index, user in enumerate(users):
        try:
            email = normalise_email(user["email"])
        except ValueError as exc:
            raise RestoreError(
                f"users[{index}] has an email the server refuses, {user['email']!r}: {exc}"
            ) from exc
        if email in first_with:
            raise RestoreError(
                f"users[{index}] has the email {email!r} of users[{first_with[email]}] once normalised; "
                "keep one of the two accounts in the dump"
            )
        first_with[email] = index
        user["email"] = email


def _check_references(lists: dict[str, list[dict[str, Any]]]) -> None:
    _normalise_emails(lists["users"])
    users = {user["id"] for user in lists["users"]}
    owners: dict[str, str] = {}
    for index, conversation in enumerate(lists["conversations"]):
        if conversation["user_id"] not in users:
            raise RestoreError(f"conversations[{index}] belongs to unknown user {conversation['user_id']!r}")
        owners[conversation["id"]] = conversation["user_id"]
    for index, message in enumerate(lists["messages"]):
        if owners.get(message["conversation_id"]) != message["user_id"]:
            raise RestoreError(f"messages[{index}] points to an unknown conversation or the wrong owner")
