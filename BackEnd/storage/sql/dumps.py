"""The whole SQL database read out as a DumpSource and a RestoreSource loaded, both streamed.

Export lists accounts oldest first, after each account its threads by creation, each with its
messages: the order TinyDB lists them in, so dumps of both compare equal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import Connection, Row, exists, func, select, text

from ...record_checks import STORED_CONVERSATION_FIELDS
from ...records import UserRecord
from ..dump_stream import DumpCounts, DumpSource, RestoreSource
from ..file_store import StoredFile
from .bulk import RESTORE_BATCH, insert_rows
from .files import insert_files
from .organise import conversation_row
from .schema import (
    audit_events,
    conversation_tags,
    conversations,
    messages,
    search_entries,
    stored_files,
    usage_days,
    user_message_days,
    user_stats,
    users,
)
from .search import entries_for

__all__ = ["MESSAGE_COLUMNS", "export_all", "import_all", "is_empty", "user_from_row"]

MESSAGE_COLUMNS = tuple(column for column in messages.c if column.name != "seq")
_AUDIT_COLUMNS = tuple(column for column in audit_events.c if column.name != "seq")
# Rows fetched at a time from a server-side cursor while dumping.
_FETCH_BATCH = 2_000
# The secondary indexes of the big tables (the search index's GIN one above all): built once
# after a restore's rows on PostgreSQL, not updated row by row. The unique ones stay (the
# foreign keys need them, and they refuse a repeated id).
_DEFERRED_INDEXES = sorted(
    (index for table in (messages, search_entries) for index in table.indexes if not index.unique),
    key=lambda index: str(index.name),
)


def user_from_row(row: Row[Any]) -> UserRecord:
    """An account as TinyDB keeps it too: `preferences` only once some are set."""
    user: dict[str, Any] = row._asdict()
    if user.get("preferences") is None:
        user.pop("preferences", None)
    return user  # type: ignore[return-value]


def export_all(db: Connection) -> DumpSource:
    """Each section read by one streamed query (inside the caller's snapshot) as it is written."""
    counts = DumpCounts(
        *(
            db.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (users, conversations, messages, usage_days, audit_events, stored_files)
        )
    )
    return DumpSource(
        counts,
        users=_rows(db, select(users).order_by(users.c.created_at, users.c.id)),
        conversations=_threads(db),
        messages=_rows(db, _in_account_order(select(*MESSAGE_COLUMNS), messages.c.conversation_id)),
        usage=_rows(
            db,
            select(usage_days)
            .join(users, users.c.id == usage_days.c.user_id)
            .order_by(users.c.created_at, users.c.id, usage_days.c.day, usage_days.c.model),
        ),
        audit=_rows(db, select(*_AUDIT_COLUMNS).order_by(audit_events.c.seq)),
        # One file's bytes at a time: a class's images may be large.
        files=(
            StoredFile(**row)
            for row in _rows(db, select(stored_files).order_by(stored_files.c.user_id, stored_files.c.id), 8)
        ),
    )


def _in_account_order(query: Any, conversation_id: Any) -> Any:
    return (
        query.join(conversations, conversations.c.id == conversation_id)
        .join(users, users.c.id == conversations.c.user_id)
        .order_by(
            users.c.created_at,
            users.c.id,
            conversations.c.created_at,
            conversations.c.id,
            messages.c.created_at,
            messages.c.seq,
        )
    )


def _threads(db: Connection) -> Iterator[dict[str, Any]]:
    tags: dict[str, list[str]] = {}
    for row in db.execute(select(conversation_tags.c.conversation_id, conversation_tags.c.tag)):
        tags.setdefault(row.conversation_id, []).append(row.tag)
    stored = [conversations.c[field] for field in STORED_CONVERSATION_FIELDS if field != "tags"]
    query = (
        select(*stored)
        .join(users, users.c.id == conversations.c.user_id)
        .order_by(users.c.created_at, users.c.id, conversations.c.created_at, conversations.c.id)
    )
    for record in _rows(db, query):
        yield {**record, "tags": sorted(tags.get(record["id"], []))}


def _rows(db: Connection, query: Any, batch: int = _FETCH_BATCH) -> Iterator[dict[str, Any]]:
    """The query's rows as records, fetched `batch` at a time through a server-side cursor."""
    result = db.execution_options(stream_results=True, yield_per=batch).execute(query)
    for row in result:
        yield row._asdict()


def is_empty(db: Connection) -> bool:
    """Whether no account (hence no thread or message) is stored."""
    return not db.execute(select(exists().select_from(users))).scalar_one()


def import_all(db: Connection, source: RestoreSource, advance: Callable[[int], None]) -> None:
    """Insert a checked dump in large batches; derived rows (stats, search index) as they go.

    On PostgreSQL the rows go in by COPY, and the secondary indexes of messages and search rows
    are dropped first and built once at the end (inside the same transaction): updating the
    search index's GIN index row by row dominated a restore's time.
    """
    postgresql = db.dialect.name == "postgresql"
    if postgresql:
        for index in _DEFERRED_INDEXES:
            index.drop(db)
    insert_rows(db, users, source.users(), advance)
    owners: dict[str, str] = {}
    tags: list[dict[str, Any]] = []

    def thread_rows() -> Iterator[dict[str, Any]]:
        for record in source.conversations():
            summary = source.summaries.get(record["id"])
            owners[record["id"]] = record["user_id"]
            tags.extend(
                {"conversation_id": record["id"], "user_id": record["user_id"], "tag": tag}
                for tag in record.get("tags") or ()
            )
            yield {
                **conversation_row(record),
                "message_count": summary.count if summary else 0,
                "preview": summary.preview if summary else None,
            }

    insert_rows(db, conversations, thread_rows(), advance)
    insert_rows(db, conversation_tags, iter(tags))
    _insert_messages(db, source, postgresql, advance)
    insert_rows(db, user_stats, _account_stats(source, owners))
    insert_rows(db, user_message_days, _account_days(source, owners))
    insert_rows(db, usage_days, source.usage(), advance)
    insert_rows(db, audit_events, source.audit(), advance)
    for file in source.files():
        insert_files(db, [file])
        advance(1)
    if postgresql:
        # Memory for building the index at once (this transaction only): a larger sort is faster.
        db.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        for index in _DEFERRED_INDEXES:
            index.create(db)


def _insert_messages(
    db: Connection, source: RestoreSource, postgresql: bool, advance: Callable[[int], None]
) -> None:
    """The messages and their search rows, a batch at a time. A writer thread sends one batch
    while this one reads and indexes the next: the database's work overlaps the reading."""
    batch: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    with ThreadPoolExecutor(max_workers=1) as writer:
        sending: Future[None] | None = None
        for conversation, thread in source.threads():
            entries += entries_for([conversation], [], postgresql=postgresql)  # type: ignore[list-item]
            batch += thread
            if len(batch) >= RESTORE_BATCH:
                entries += entries_for([], batch, postgresql=postgresql)  # type: ignore[arg-type]
                if sending is not None:
                    sending.result()  # one batch in flight at most: memory stays bounded
                sending = writer.submit(_write_batch, db, batch, entries)
                advance(len(batch))
                batch, entries = [], []
        entries += entries_for([], batch, postgresql=postgresql)  # type: ignore[arg-type]
        if sending is not None:
            sending.result()
        _write_batch(db, batch, entries)
        advance(len(batch))


def _write_batch(db: Connection, batch: list[dict[str, Any]], entries: list[dict[str, Any]]) -> None:
    insert_rows(db, messages, batch)
    insert_rows(db, search_entries, entries)


def _account_stats(source: RestoreSource, owners: dict[str, str]) -> Iterator[dict[str, Any]]:
    kept: dict[str, dict[str, Any]] = {}
    for conversation_id, summary in source.summaries.items():
        user_id = owners[conversation_id]
        line = kept.setdefault(
            user_id, {"user_id": user_id, "messages": 0, "first_message_at": None, "last_message_at": None}
        )
        line["messages"] += summary.count
        line["first_message_at"] = min(filter(None, (line["first_message_at"], summary.first)))
        line["last_message_at"] = max(filter(None, (line["last_message_at"], summary.last)))
    return iter(kept.values())


def _account_days(source: RestoreSource, owners: dict[str, str]) -> Iterator[dict[str, Any]]:
    days: dict[tuple[str, str], int] = {}
    for conversation_id, summary in source.summaries.items():
        for day, count in summary.days.items():
            key = (owners[conversation_id], day)
            days[key] = days.get(key, 0) + count
    return ({"user_id": user_id, "day": day, "messages": count} for (user_id, day), count in days.items())
