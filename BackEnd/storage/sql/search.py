"""The SQL search index: `search_entries` rows; PostgreSQL's tsvector GIN index, SQLite's scan.

On PostgreSQL each entry's `document` (not `words`, which SQLite scans) is a tsvector of its
distinct words, each lexeme prefixed by a hash of the owner (`3f9a0c1b7d2elorem`): `document @@ '3f9a0c1b7d2elor:*'` then finds one
user's prefixes in the GIN index without reading every user's postings of a common word. Words
are our own (`search_text`), written as tsvector/tsquery literals, so PostgreSQL's parser never
re-splits them. A quoted phrase narrows by its words there and is checked in Python.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Connection, cast, func, insert, select, update
from sqlalchemy.dialects.postgresql import TSQUERY

from ...records import ConversationRecord, MessageRecord
from ...search_text import SearchQuery, counted_total, counting_limit, indexed_words, matches
from ..base import Page, SearchHit, SearchIndex
from .schema import conversations, messages, search_entries

__all__ = ["SQLSearch", "add_messages", "add_title", "entries_for", "rename_title"]

_ENTRY = search_entries.c
_CONVERSATION = tuple(conversations.c)
_MAX_LEXEME = 200  # characters of a word kept in a lexeme (PostgreSQL refuses past 2047 bytes)


@functools.lru_cache(maxsize=4096)  # a restore asks once per message, for a few thousand owners
def _owner_key(user_id: str) -> str:
    return hashlib.blake2b(user_id.encode(), digest_size=6).hexdigest()


def _document(user_id: str, words: str) -> str:
    key = _owner_key(user_id)
    return " ".join(f"'{key}{word[:_MAX_LEXEME]}'" for word in set(words.split()))


def entries_for(
    conversations_: Iterable[ConversationRecord],
    messages_: Iterable[MessageRecord],
    *,
    postgresql: bool,
) -> list[dict[str, Any]]:
    """The index rows of these titles and messages (a turn, a restore, a migration, an import)."""
    rows: list[tuple[str, str, str | None, str, str]] = [
        (conversation["user_id"], conversation["id"], None, conversation["created_at"], conversation["title"])
        for conversation in conversations_
    ]
    rows += [
        (
            message["user_id"],
            message["conversation_id"],
            message["id"],
            message["created_at"],
            message["content"],
        )
        for message in messages_
    ]
    entries = []
    for user_id, conversation_id, message_id, created_at, text in rows:
        words = indexed_words(text)
        entries.append(
            {
                "user_id": user_id,
                "conversation_id": conversation_id,
                "message_id": message_id,
                "created_at": created_at,
                # One or the other: PostgreSQL matches the document, SQLite the words.
                "words": None if postgresql else words,
                "document": _document(user_id, words) if postgresql else None,
            }
        )
    return entries


def _is_postgresql(db: Connection) -> bool:
    return db.dialect.name == "postgresql"


def add_title(db: Connection, conversation: ConversationRecord) -> None:
    """Index a new thread's title."""
    db.execute(insert(search_entries), entries_for([conversation], [], postgresql=_is_postgresql(db)))


def rename_title(db: Connection, conversation: ConversationRecord, title: str) -> None:
    """Index a thread's new title in place of the old."""
    (entry,) = entries_for([{**conversation, "title": title}], [], postgresql=_is_postgresql(db))
    db.execute(
        update(search_entries)
        .where(_ENTRY.conversation_id == conversation["id"], _ENTRY.message_id.is_(None))
        .values(words=entry["words"], document=entry["document"])
    )


def add_messages(db: Connection, messages_: list[MessageRecord]) -> None:
    """Index messages just stored (with their stamped times)."""
    db.execute(insert(search_entries), entries_for([], messages_, postgresql=_is_postgresql(db)))


class SQLSearch(SearchIndex):
    """Matches counted and paged in SQL; candidates checked in Python where SQL only narrows."""

    def __init__(self, db: Connection) -> None:
        self._db = db

    def search(self, user_id: str, query: SearchQuery, *, limit: int, offset: int) -> Page[SearchHit]:
        mine: ColumnElement[bool] = _ENTRY.user_id == user_id
        ceiling = counting_limit(limit=limit, offset=offset)
        narrowed = mine
        if _is_postgresql(self._db):
            key = _owner_key(user_id)
            lexemes = " & ".join(f"'{key}{word[:_MAX_LEXEME]}':*" for word in dict.fromkeys(query.words()))
            narrowed = mine & _ENTRY.document.bool_op("@@")(cast(lexemes, TSQUERY))
            if all(len(term) == 1 for term in query.terms):  # exact in SQL: count and page there
                # Counting stops one past the ceiling: a common word's thousands of rows are not read.
                counted = select(_ENTRY.seq).where(narrowed).limit(ceiling + 1).subquery()
                found: int = self._db.execute(select(func.count()).select_from(counted)).scalar_one()
                total, capped = counted_total(found, limit=limit, offset=offset)
                items = self._hits(narrowed, limit=limit, offset=offset)
                return Page(items=items, total=total, total_is_lower_bound=capped)
        else:
            for word in query.words():
                narrowed = narrowed & (" " + _ENTRY.words).like(f"% {word}%")
        # The candidates' words: stored on SQLite, made again from the text on PostgreSQL.
        text = func.coalesce(_ENTRY.words, messages.c.content, conversations.c.title)
        candidates = (
            select(_ENTRY.seq, text.label("text"), _ENTRY.words.is_not(None).label("folded"))
            .select_from(search_entries)
            .join(conversations, conversations.c.id == _ENTRY.conversation_id)
            .outerjoin(messages, messages.c.id == _ENTRY.message_id)
            .where(narrowed)
            .order_by(_ENTRY.created_at.desc(), _ENTRY.seq.desc())
        )
        chosen: list[int] = []
        for row in self._db.execute(candidates):  # newest first: stop once past the ceiling
            if matches(row.text if row.folded else indexed_words(row.text), query):
                chosen.append(row.seq)
                if len(chosen) > ceiling:
                    break
        total, capped = counted_total(len(chosen), limit=limit, offset=offset)
        items = self._hits(_ENTRY.seq.in_(chosen[offset : offset + limit]), limit=limit, offset=0)
        return Page(items=items, total=total, total_is_lower_bound=capped)

    def _hits(self, condition: ColumnElement[bool], *, limit: int, offset: int) -> list[SearchHit]:
        newest = (_ENTRY.created_at.desc(), _ENTRY.seq.desc())
        # The page's entries first, then their threads and messages: joined before the LIMIT, a
        # generic plan (psycopg prepares a statement run 5 times) read every match's message.
        page = select(_ENTRY.seq).where(condition).order_by(*newest).limit(limit).offset(offset).subquery()
        rows = self._db.execute(
            select(
                *_CONVERSATION,
                _ENTRY.message_id.label("hit_message_id"),
                _ENTRY.created_at.label("hit_created_at"),
                messages.c.role.label("hit_role"),
                messages.c.content.label("hit_content"),
            )
            .select_from(search_entries)
            .join(page, page.c.seq == _ENTRY.seq)
            .join(conversations, conversations.c.id == _ENTRY.conversation_id)
            .outerjoin(messages, messages.c.id == _ENTRY.message_id)
            .order_by(*newest)
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
