"""The TinyDB `SearchIndex` of a unit of work: the user's index from the cache, hits from their files."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..search_text import SearchQuery, word_set
from .base import Page, SearchHit, SearchIndex
from .tiny_search import Entry, UserIndex

if TYPE_CHECKING:
    from .tinydb_units import TinyUnitOfWork

__all__ = ["TinySearch"]


class TinySearch(SearchIndex):
    """The user's index from the cache (built from their files on first use), under their lock."""

    def __init__(self, unit: TinyUnitOfWork) -> None:
        self._unit = unit
        self._files = unit.files

    def search(self, user_id: str, query: SearchQuery, *, limit: int, offset: int) -> Page[SearchHit]:
        self._unit.lock_user(user_id)
        self._unit.search_built.add(user_id)
        index = self._unit.search_cache.get(user_id, lambda: self._build(user_id))
        threads: dict[str, dict[str, Any]] = {}  # the messages of each thread read for this search
        page = index.search(
            query, limit=limit, offset=offset, text_of=lambda entry: self._hit(user_id, entry, threads).text
        )
        wanted: dict[str, list[str]] = {}  # the page's messages of threads not read whole above
        for entry in page.items:
            if entry.message_id is not None and entry.conversation_id not in threads:
                wanted.setdefault(entry.conversation_id, []).append(entry.message_id)
        for conversation_id, message_ids in wanted.items():
            threads[conversation_id] = self._files.committed_messages(conversation_id, message_ids)
        items = [self._hit(user_id, entry, threads) for entry in page.items]
        return Page(items=items, total=page.total, total_is_lower_bound=page.total_is_lower_bound)

    def _hit(self, user_id: str, entry: Entry, threads: dict[str, dict[str, Any]]) -> SearchHit:
        # The index changes in the same committed units as the files: both hold the entry.
        conversation = self._unit.threads.get(user_id, entry.conversation_id)
        message = None
        if entry.message_id is not None:
            if entry.conversation_id not in threads:  # read past the thread cache, like the build
                history = self._files.committed_history(entry.conversation_id)
                threads[entry.conversation_id] = {record["id"]: record for record in history}
            message = threads[entry.conversation_id].get(entry.message_id)
        if conversation is None or (entry.message_id is not None and message is None):
            raise AssertionError("the search index holds an entry that storage no longer has")
        return SearchHit(
            conversation=conversation,
            message_id=entry.message_id,
            role=None if message is None else message["role"],
            text=conversation["title"] if message is None else message["content"],
            created_at=entry.created_at,
        )

    def _build(self, user_id: str) -> UserIndex:
        return UserIndex.built(self._entries(user_id))

    def _entries(self, user_id: str) -> Iterator[tuple[Entry, set[str]]]:
        new_entry = tuple.__new__  # Entry(...) goes through a Python-level __new__: a fifth of the build
        for conversation in self._files.conversations(user_id).records():
            conversation_id = conversation["id"]  # one string shared by all the thread's entries
            yield (
                new_entry(Entry, (conversation["created_at"], conversation_id, conversation_id, None)),
                word_set(conversation["title"]),
            )
            # Straight from the file, committed (the unit finished any pending commit first):
            # reading every thread through the thread cache would evict the threads in use.
            for message in self._files.committed_history(conversation_id):
                key = message["id"]
                entry = new_entry(Entry, (message["created_at"], key, conversation_id, key))
                yield entry, word_set(message["content"])
