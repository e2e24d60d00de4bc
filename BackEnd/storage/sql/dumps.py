"""The whole SQL database as a Dump and back, in the order TinyDB lists it, so dumps compare equal."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Row, exists, insert, select

from ...record_checks import STORED_CONVERSATION_FIELDS
from ...records import UserRecord
from ..base import Dump
from ..summaries import ThreadSummary, summarise
from .files import all_files, insert_files
from .organise import conversation_row
from .schema import (
    audit_events,
    conversation_tags,
    conversations,
    messages,
    search_entries,
    usage_days,
    user_message_days,
    user_stats,
    users,
)
from .search import entries_for

__all__ = ["MESSAGE_COLUMNS", "export_all", "import_all", "is_empty", "user_from_row"]

MESSAGE_COLUMNS = tuple(column for column in messages.c if column.name != "seq")
_AUDIT_COLUMNS = tuple(column for column in audit_events.c if column.name != "seq")
# Rows per INSERT batch when restoring: large enough to be fast, small enough for any driver.
_RESTORE_BATCH = 5_000


def user_from_row(row: Row[Any]) -> UserRecord:
    """An account as TinyDB keeps it too: `preferences` only once some are set."""
    user: dict[str, Any] = row._asdict()
    if user.get("preferences") is None:
        user.pop("preferences", None)
    return user  # type: ignore[return-value]


def export_all(db: Connection) -> Dump:
    """Accounts oldest first; after each account its threads by creation, each with its messages."""
    accounts = [row._asdict() for row in db.execute(select(users).order_by(users.c.created_at, users.c.id))]
    by_owner: dict[str, list[Any]] = {}
    tags: dict[str, list[str]] = {}
    for row in db.execute(select(conversation_tags.c.conversation_id, conversation_tags.c.tag)):
        tags.setdefault(row.conversation_id, []).append(row.tag)
    stored = [conversations.c[field] for field in STORED_CONVERSATION_FIELDS if field != "tags"]
    threads = select(*stored).order_by(conversations.c.created_at, conversations.c.id)
    for row in db.execute(threads):
        by_owner.setdefault(row.user_id, []).append({**row._asdict(), "tags": sorted(tags.get(row.id, []))})
    by_thread: dict[str, list[Any]] = {}
    history = select(*MESSAGE_COLUMNS).order_by(messages.c.created_at, messages.c.seq)
    for row in db.execute(history):
        by_thread.setdefault(row.conversation_id, []).append(row._asdict())
    lines: dict[str, list[Any]] = {}
    ledger = select(usage_days).order_by(usage_days.c.user_id, usage_days.c.day, usage_days.c.model)
    for row in db.execute(ledger):
        lines.setdefault(row.user_id, []).append(row._asdict())
    audit = [row._asdict() for row in db.execute(select(*_AUDIT_COLUMNS).order_by(audit_events.c.seq))]
    dump = Dump(users=accounts, conversations=[], messages=[], audit=audit)  # type: ignore[arg-type]
    for account in accounts:
        dump.usage.extend(lines.get(account["id"], []))
        for thread in by_owner.get(account["id"], []):
            dump.conversations.append(thread)
            dump.messages.extend(by_thread.get(thread["id"], []))
    dump.files = all_files(db)
    return dump


def is_empty(db: Connection) -> bool:
    """Whether no account (hence no thread or message) is stored."""
    return not db.execute(select(exists().select_from(users))).scalar_one()


def import_all(db: Connection, dump: Dump) -> int:
    """Insert a validated dump, in batches (psycopg pipelines each batch's rows).

    A thread's `updated_at` older than its last message is moved up to it first (`Dump.bring_times_up`);
    returns how many were.
    """
    moved = dump.bring_times_up()
    entries = entries_for(  # the index is derived, never dumped
        dump.conversations, dump.messages, postgresql=db.dialect.name == "postgresql"
    )
    threads = _summaries(dump.messages, "conversation_id")
    rows = [
        {
            **conversation_row(record),
            "message_count": threads[record["id"]].count if record["id"] in threads else 0,
            "preview": threads[record["id"]].preview if record["id"] in threads else None,
        }
        for record in dump.conversations
    ]
    tags = [
        {"conversation_id": record["id"], "user_id": record["user_id"], "tag": tag}
        for record in dump.conversations
        for tag in record.get("tags") or ()
    ]
    accounts = _summaries(dump.messages, "user_id")
    kept = [
        {"user_id": user_id, "messages": s.count, "first_message_at": s.first, "last_message_at": s.last}
        for user_id, s in accounts.items()
    ]
    days = [
        {"user_id": user_id, "day": day, "messages": count}
        for user_id, s in accounts.items()
        for day, count in s.days.items()
    ]
    tables = (
        (users, dump.users),
        (conversations, rows),
        (conversation_tags, tags),
        (messages, dump.messages),
        (user_stats, kept),
        (user_message_days, days),
        (search_entries, entries),
        (usage_days, dump.usage),
        (audit_events, dump.audit),
    )
    for table, records in tables:
        for start in range(0, len(records), _RESTORE_BATCH):
            batch = records[start : start + _RESTORE_BATCH]
            db.execute(insert(table), [dict(record) for record in batch])
    insert_files(db, dump.files)
    return moved


def _summaries(records: Iterable[Any], key: str) -> dict[str, ThreadSummary]:
    grouped: dict[str, list[Any]] = {}
    for record in records:
        grouped.setdefault(record[key], []).append(record)
    return {group: summarise(members) for group, members in grouped.items()}
