"""Issue 11 on SQL: a conversation's row and tags, and a ThreadQuery as WHERE and ORDER BY clauses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, exists, false, func, insert, select, true

from ...organising import fold
from ..base import IN_NO_FOLDER, ThreadQuery
from .schema import conversation_tags, conversations

__all__ = [
    "CONVERSATION_COLUMNS",
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
