"""Record factories for tests that fill a data folder directly through the storage layer."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import bcrypt

from BackEnd.records import (
    ConversationRecord,
    MessageRecord,
    Role,
    UserRecord,
    conversation_record,
    message_record,
    new_id,
    utc_now,
)
from BackEnd.storage import Database, TinyDBDatabase

PASSWORD = "correct horse"
_HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()


def make_user(email: str, role: str = "user") -> UserRecord:
    """An account whose password is PASSWORD."""
    return {
        "id": new_id("usr"),
        "email": email,
        "name": email.split("@")[0],
        "role": role,  # type: ignore[typeddict-item]
        "password_hash": _HASH,
        "created_at": utc_now(),
        "is_active": True,
        "last_login_at": None,
        "credits": None,
        "token_generation": 0,
    }


def make_conversation(user_id: str, title: str = "A thread") -> ConversationRecord:
    return conversation_record(user_id, title)


def make_turn(user_id: str, conversation_id: str, text: str) -> list[MessageRecord]:
    """A user message and its answer."""
    return [
        message_record(user_id, conversation_id, "user", text),
        message_record(user_id, conversation_id, "assistant", f"echo: {text}"),
    ]


def chat(
    database: Database, user_id: str, text: str, conversation_id: str | None = None
) -> ConversationRecord:
    """Store one turn in one unit of work, in a new thread unless `conversation_id` is given."""
    new = make_conversation(user_id, title=text) if conversation_id is None else None
    target = new["id"] if new else conversation_id
    assert target is not None
    with database.unit_of_work(user_id) as uow:
        if new is not None:
            uow.threads.add(new)
        stored = uow.threads.append(user_id, target, make_turn(user_id, target, text))
    assert stored is not None
    return stored


def add_users(database: Database, *users: UserRecord) -> None:
    """Store accounts, all in one unit of work."""
    with database.unit_of_work() as uow:
        for user in users:
            uow.accounts.add(user)


def get_user_by_email(database: Database, email: str) -> UserRecord | None:
    """The stored account with this email, read in a unit of its own."""
    with database.unit_of_work(write=False) as uow:
        return uow.accounts.get_by_email(email)


def set_role(database: Database, email: str, role: Role) -> UserRecord | None:
    """Change an account's role in a unit of its own, as an administrator would."""
    with database.unit_of_work() as uow:
        return uow.accounts.set_role(email, role)


def populate(database: Database) -> dict[str, UserRecord]:
    """Two accounts (one admin, one with credits), three threads, a few turns each, an audited action."""
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com", role="admin")
    alice.update(credits=1234, last_login_at=utc_now(), token_generation=2)
    add_users(database, alice, bob)
    with database.unit_of_work() as uow:
        uow.audit.append(
            {
                "at": utc_now(),
                "actor_id": bob["id"],
                "actor_email": bob["email"],
                "action": "credits",
                "target_id": alice["id"],
                "target_email": alice["email"],
                "detail": "credits unlimited -> 1234",
            }
        )
    first = chat(database, alice["id"], "bonjour")
    chat(database, alice["id"], "ça va ? ünïcödé", first["id"])
    chat(database, alice["id"], "second thread")
    chat(database, bob["id"], "hello from bob")
    return {"alice": alice, "bob": bob}


def populate_folder(folder: Path) -> dict[str, UserRecord]:
    """`populate` a data folder through TinyDBDatabase, then release it."""
    database = TinyDBDatabase.open(folder)
    try:
        return populate(database)
    finally:
        database.close()


def json_snapshot(folder: Path) -> dict[str, bytes]:
    """The bytes of every JSON file under `folder`, by relative path."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*.json"))}


LOCK_FILES = {".server.lock", ".users.lock"}


def file_digests(path: Path) -> dict[str, str]:
    """The SHA-256 of every file at or under `path`, lock files aside (they name the last holder)."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {
        str(file): hashlib.sha256(file.read_bytes()).hexdigest()
        for file in files
        if file.name not in LOCK_FILES
    }


def stored_text(database: Database, *, audit: bool = True) -> str:
    """Everything a backend holds as one searchable text: each TinyDB file's name and bytes, or the dump.

    `audit=False` leaves out the audit trail (which names the accounts it acted on, deleted ones too).
    """
    if isinstance(database, TinyDBDatabase):
        files = sorted(path for path in database.folder.rglob("*") if path.is_file())
        texts = []
        for path in files:
            content = path.read_text(encoding="utf-8")
            if not audit and path.name == "users.json":
                content = json.dumps({**json.loads(content), "audit": {}})
            texts.append(f"{path}\n{content}")
        return "\n".join(texts)
    dump = database.export_dump()
    if not audit:
        dump.audit = []
    return json.dumps(dataclasses.asdict(dump), ensure_ascii=False)


def stored_state(database: Database) -> object:
    """A picture of everything stored, to compare before and after: TinyDB's file bytes, or the dump."""
    if isinstance(database, TinyDBDatabase):
        return json_snapshot(database.folder)
    return database.export_dump()


def as_layout_1(folder: Path) -> None:
    """Make a closed TinyDB folder look as the version before stored summaries wrote it: no
    `summary` in conversation records and no `layout.json` (so the next open converts it)."""
    (folder / "layout.json").unlink(missing_ok=True)
    for path in sorted((folder / "conversations").glob("*.json")):
        tables = json.loads(path.read_text(encoding="utf-8"))
        for record in tables["conversations"].values():
            record.pop("summary", None)
        path.write_text(json.dumps(tables, ensure_ascii=False), encoding="utf-8")


def stored_summaries(folder: Path) -> dict[str, dict[str, Any]]:
    """Thread id: the `summary` its record stores on disk (absent: none stored yet)."""
    stored: dict[str, dict[str, Any]] = {}
    for path in sorted((folder / "conversations").glob("*.json")):
        for record in json.loads(path.read_text(encoding="utf-8"))["conversations"].values():
            if "summary" in record:
                stored[record["id"]] = record["summary"]
    return stored


def damage_keeping_stamp(path: Path) -> None:
    """Damage a file in place keeping its inode, size and mtime: only a read of it would notice."""
    before = path.stat()
    with open(path, "r+b") as file:
        file.write(b"{" * before.st_size)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
