"""Issue 11 on SQL: a conversation's row and tags, and a ThreadQuery as WHERE and ORDER BY clauses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, exists, false, func, insert, select, true, update

from ...organising import fold, preview_of
from ...records import ConversationRecord, MessageRecord
from ..base import IN_NO_FOLDER, ThreadQuery
from . import search
from .schema import conversation_tags, conversations, messages
from .stats import SQLStats

__all__ = [
    "CONVERSATION_COLUMNS",
    "SQLOrganising",
    "conversation_row",
    "label_counts",
    "set_tags",
    "tags_of",
    "thread_filter",
    "thread_order",
]

# What a conversation reads back as (title_key is the database's own helper).
CONVERSATION_COLUMNS = tuple(column for column in conversations.c if column.name != "title_key")
_IN_CLAUSE_CHUNK = 500  # ids per IN (...): far below SQLite's bound on parameters


def conversation_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """The `conversations` row of a record (its tags go to `conversation_tags`)."""
    row = {column.name: record.get(column.name) for column in CONVERSATION_COLUMNS}
    row.update(
        is_favorite=bool(record.get("is_favorite")),
        archived=bool(record.get("archived")),
        message_count=record.get("message_count") or 0,
        title_key=fold(record["title"]),
    )
    return row


def set_tags(db: Connection, user_id: str, conversation_id: str, tags: Iterable[str]) -> None:
    """Replace a thread's tags."""
    db.execute(delete(conversation_tags).where(conversation_tags.c.conversation_id == conversation_id))
    rows = [{"conversation_id": conversation_id, "user_id": user_id, "tag": tag} for tag in tags]
    if rows:
        db.execute(insert(conversation_tags), rows)


def tags_of(db: Connection, conversation_ids: Sequence[str]) -> dict[str, list[str]]:
    """Each thread's tags, A→Z (threads without tags absent)."""
    found: dict[str, list[str]] = {}
    for start in range(0, len(conversation_ids), _IN_CLAUSE_CHUNK):
        chunk = conversation_ids[start : start + _IN_CLAUSE_CHUNK]
        rows = db.execute(
            select(conversation_tags.c.conversation_id, conversation_tags.c.tag).where(
                conversation_tags.c.conversation_id.in_(chunk)
            )
        )
        for row in rows:
            found.setdefault(row.conversation_id, []).append(row.tag)
    return {key: sorted(tags) for key, tags in found.items()}


def thread_filter(user_id: str, query: ThreadQuery) -> list[ColumnElement[bool]]:
    """The WHERE clauses of `query`, scoped to the owner."""
    where: list[ColumnElement[bool]] = [conversations.c.user_id == user_id]
    if query.folder == IN_NO_FOLDER:
        where.append(conversations.c.folder.is_(None))
    elif query.folder is not None:
        where.append(conversations.c.folder == query.folder)
    for flag, wanted in (
        (conversations.c.is_favorite, query.favorite),
        (conversations.c.archived, query.archived),
    ):
        if wanted is not None:
            where.append(flag == (true() if wanted else false()))
    for tag in query.tags:
        where.append(
            exists().where(
                conversation_tags.c.conversation_id == conversations.c.id, conversation_tags.c.tag == tag
            )
        )
    if query.title is not None:
        pattern = query.title.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(conversations.c.title_key.like(f"%{pattern}%", escape="\\"))
    return where


def thread_order(query: ThreadQuery, dialect: str) -> list[Any]:
    """ORDER BY of `query`: titles compared code point by code point, as Python (and SQLite) do."""
    if query.sort == "title":
        if dialect == "postgresql":  # the database's collation may ignore spaces and punctuation
            return [
                conversations.c.title_key.collate("C"),
                conversations.c.title.collate("C"),
                conversations.c.id,
            ]
        return [conversations.c.title_key, conversations.c.title, conversations.c.id]
    column = conversations.c.created_at if query.sort == "created_at" else conversations.c.updated_at
    return [column.desc(), conversations.c.id.desc()]


def label_counts(db: Connection, user_id: str, label: str) -> dict[str, int]:
    """How many of the user's threads are in each folder (`label` "folder") or carry each tag ("tags")."""
    if label == "tags":
        column, where = conversation_tags.c.tag, conversation_tags.c.user_id == user_id
    else:
        column, where = (
            conversations.c.folder,
            (conversations.c.user_id == user_id) & conversations.c.folder.is_not(None),
        )
    rows = db.execute(select(column, func.count()).where(where).group_by(column))
    return {row[0]: row[1] for row in rows}


class SQLOrganising:
    """Mixed into SQLThreads: issue 11's thread methods, over the same transaction."""

    _db: Connection
    _stats: SQLStats

    def _find(
        self, user_id: str, conversation_id: str, *, for_update: bool = False
    ) -> ConversationRecord | None:
        raise NotImplementedError

    def _tagged(self, found: Any) -> Any:
        if found is not None:
            found["tags"] = tags_of(self._db, [found["id"]]).get(found["id"], [])
        return found

    def organise(
        self, user_id: str, conversation_id: str, changes: Mapping[str, object]
    ) -> ConversationRecord | None:
        conversation = self._find(user_id, conversation_id, for_update=True)
        if conversation is None:
            return None
        columns = {key: value for key, value in changes.items() if key != "tags"}
        if columns:
            self._db.execute(
                update(conversations).where(conversations.c.id == conversation_id).values(**columns)
            )
        if "tags" in changes:
            set_tags(self._db, user_id, conversation_id, changes["tags"])  # type: ignore[arg-type]
        return self._tagged({**conversation, **columns})  # type: ignore[no-any-return]

    def tag_counts(self, user_id: str) -> dict[str, int]:
        return label_counts(self._db, user_id, "tags")

    def folder_counts(self, user_id: str) -> dict[str, int]:
        return label_counts(self._db, user_id, "folder")

    def move_folder(self, user_id: str, folder: str, to: str | None) -> int:
        moved = self._db.execute(
            update(conversations)
            .where(conversations.c.user_id == user_id, conversations.c.folder == folder)
            .values(folder=to)
        )
        return moved.rowcount

    def insert_dated(
        self, user_id: str, conversation_id: str, messages_: list[MessageRecord]
    ) -> ConversationRecord | None:
        conversation = self._find(user_id, conversation_id, for_update=True)
        if conversation is None:
            return None
        if not messages_:
            return self._tagged(conversation)  # type: ignore[no-any-return]
        last = max([conversation["updated_at"], *(message["created_at"] for message in messages_)])
        return self._stored(conversation, [dict(message) for message in messages_], last, newest=False)  # type: ignore[no-any-return]

    def _stored(
        self, conversation: ConversationRecord, stamped: list[dict[str, Any]], last: str, *, newest: bool
    ) -> Any:
        """Insert messages (oldest first) and keep the thread's time, size, preview and the stats."""
        latest = max(stamped, key=lambda message: message["created_at"])
        changes: dict[str, Any] = {
            "updated_at": last,
            "message_count": conversation["message_count"] + len(stamped),
        }
        if newest or latest["created_at"] >= (self._last_message_time(conversation) or ""):
            changes["preview"] = preview_of(latest["content"])
        self._db.execute(
            update(conversations).where(conversations.c.id == conversation["id"]).values(**changes)
        )
        self._db.execute(insert(messages), stamped)
        search.add_messages(self._db, stamped)  # type: ignore[arg-type]
        self._stats.added(conversation["user_id"], stamped)
        return self._tagged({**conversation, **changes})

    def _last_message_time(self, conversation: ConversationRecord) -> str | None:
        if not conversation["message_count"]:
            return None
        return self._db.execute(
            select(func.max(messages.c.created_at)).where(messages.c.conversation_id == conversation["id"])
        ).scalar()
