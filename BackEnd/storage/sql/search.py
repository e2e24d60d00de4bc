"""The SQL search index: `search_entries` rows, PostgreSQL's full-text GIN index, SQLite's scan."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, insert, literal_column, select, update

from ...records import ConversationRecord, MessageRecord
from ...search_text import SearchQuery, indexed_words, matches
from ..base import Page, SearchHit, SearchIndex
from .schema import conversations, messages, search_entries

__all__ = ["SQLSearch", "add_messages", "add_title", "entries_for", "rename_title"]

_ENTRY = search_entries.c
_CONVERSATION = tuple(conversations.c)
# The expression migration 0005 indexes: the query must spell it the same for the index to serve.
_SIMPLE: ColumnElement[Any] = literal_column("'simple'::regconfig")


def entries_for(
    conversations_: Iterable[ConversationRecord], messages_: Iterable[MessageRecord]
) -> list[dict[str, Any]]:
    """The index rows of these titles and messages (a restore, a migration, an import)."""
    rows = [
        {
            "user_id": conversation["user_id"],
            "conversation_id": conversation["id"],
            "message_id": None,
            "created_at": conversation["created_at"],
            "words": indexed_words(conversation["title"]),
        }
        for conversation in conversations_
    ]
    rows += [
        {
            "user_id": message["user_id"],
            "conversation_id": message["conversation_id"],
            "message_id": message["id"],
            "created_at": message["created_at"],
            "words": indexed_words(message["content"]),
        }
        for message in messages_
    ]
    return rows


def add_title(db: Connection, conversation: ConversationRecord) -> None:
    """Index a new thread's title."""
    db.execute(insert(search_entries), entries_for([conversation], []))


def rename_title(db: Connection, conversation_id: str, title: str) -> None:
    """Index a thread's new title in place of the old."""
    db.execute(
        update(search_entries)
        .where(_ENTRY.conversation_id == conversation_id, _ENTRY.message_id.is_(None))
        .values(words=indexed_words(title))
    )


def add_messages(db: Connection, messages_: list[MessageRecord]) -> None:
    """Index messages just stored (with their stamped times)."""
    db.execute(insert(search_entries), entries_for([], messages_))


class SQLSearch(SearchIndex):
    """PostgreSQL matches with `tsvector @@ tsquery` in its GIN index; SQLite narrows with LIKE
    over the user's rows and checks each candidate in Python."""

    def __init__(self, db: Connection) -> None:
        self._db = db

    def search(self, user_id: str, query: SearchQuery, *, limit: int, offset: int) -> Page[SearchHit]:
        mine = _ENTRY.user_id == user_id
        if self._db.dialect.name == "postgresql":
            found = mine & func.to_tsvector(_SIMPLE, _ENTRY.words).bool_op("@@")(
                func.to_tsquery(_SIMPLE, _tsquery(query))
            )
            total: int = self._db.execute(
                select(func.count()).select_from(search_entries).where(found)
            ).scalar_one()
            return Page(items=self._hits(found, limit=limit, offset=offset), total=total)
        candidates = select(_ENTRY.seq, _ENTRY.words).where(mine)
        for word in query.words():
            candidates = candidates.where((" " + _ENTRY.words).like(f"% {word}%"))
        rows = self._db.execute(candidates.order_by(_ENTRY.created_at.desc(), _ENTRY.seq.desc())).all()
        chosen = [row.seq for row in rows if matches(row.words, query)]
        page = chosen[offset : offset + limit]
        return Page(items=self._hits(_ENTRY.seq.in_(page), limit=limit, offset=0), total=len(chosen))

    def _hits(self, condition: ColumnElement[bool], *, limit: int, offset: int) -> list[SearchHit]:
        rows = self._db.execute(
            select(
                *_CONVERSATION,
                _ENTRY.message_id.label("hit_message_id"),
                _ENTRY.created_at.label("hit_created_at"),
                messages.c.role.label("hit_role"),
                messages.c.content.label("hit_content"),
            )
            .select_from(search_entries)
            .join(conversations, conversations.c.id == _ENTRY.conversation_id)
            .outerjoin(messages, messages.c.id == _ENTRY.message_id)
            .where(condition)
            .order_by(_ENTRY.created_at.desc(), _ENTRY.seq.desc())
            .limit(limit)
            .offset(offset)
        )
        hits: list[SearchHit] = []
        for row in rows:
            values = row._asdict()
            conversation: Any = {column.name: values[column.name] for column in _CONVERSATION}
            hits.append(
                SearchHit(
                    conversation=conversation,
                    message_id=values["hit_message_id"],
                    role=values["hit_role"],
                    text=conversation["title"] if values["hit_message_id"] is None else values["hit_content"],
                    created_at=values["hit_created_at"],
                )
            )
        return hits


def _tsquery(query: SearchQuery) -> str:
    # Words are letters and digits only (search_text), so they need no quoting beyond this.
    return " & ".join("(" + " <-> ".join(f"'{word}':*" for word in term) + ")" for term in query.terms)
