"""The whole SQL database as a Dump and back, in the order TinyDB lists it, so dumps compare equal."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, exists, insert, select

from ..base import Dump
from .schema import audit_events, conversations, messages, users

__all__ = ["MESSAGE_COLUMNS", "export_all", "import_all", "is_empty"]

MESSAGE_COLUMNS = tuple(column for column in messages.c if column.name != "seq")
_AUDIT_COLUMNS = tuple(column for column in audit_events.c if column.name != "seq")
# Rows per INSERT batch when restoring: large enough to be fast, small enough for any driver.
_RESTORE_BATCH = 5_000


def export_all(db: Connection) -> Dump:
    """Accounts oldest first; after each account its threads by creation, each with its messages."""
    accounts = [row._asdict() for row in db.execute(select(users).order_by(users.c.created_at, users.c.id))]
    by_owner: dict[str, list[Any]] = {}
    threads = select(conversations).order_by(conversations.c.created_at, conversations.c.id)
    for row in db.execute(threads):
        by_owner.setdefault(row.user_id, []).append(row._asdict())
    by_thread: dict[str, list[Any]] = {}
    history = select(*MESSAGE_COLUMNS).order_by(messages.c.created_at, messages.c.seq)
    for row in db.execute(history):
        by_thread.setdefault(row.conversation_id, []).append(row._asdict())
    audit = [row._asdict() for row in db.execute(select(*_AUDIT_COLUMNS).order_by(audit_events.c.seq))]
    dump = Dump(users=accounts, conversations=[], messages=[], audit=audit)  # type: ignore[arg-type]
    for account in accounts:
        for thread in by_owner.get(account["id"], []):
            dump.conversations.append(thread)
            dump.messages.extend(by_thread.get(thread["id"], []))
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
    tables = (
        (users, dump.users),
        (conversations, dump.conversations),
        (messages, dump.messages),
        (audit_events, dump.audit),
    )
    for table, records in tables:
        for start in range(0, len(records), _RESTORE_BATCH):
            db.execute(insert(table), [dict(record) for record in records[start : start + _RESTORE_BATCH]])
    return moved
