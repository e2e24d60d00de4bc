"""The TinyDB search index: per user, in memory, built from that user's files on first search.

Nothing is written for it: the thread files are the truth and the index is derived from them,
so it is crash-safe by construction and start-up reads nothing for it. A user's index is built
the first time they search (their files only, under their lock), then kept up to date by each
committed unit of work (`SearchChanges`), and dropped least recently used first beyond
SEARCH_INDEX_CACHE_BYTES. Word prefixes are found by bisecting the sorted vocabulary.
"""

from __future__ import annotations

import bisect
import heapq
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

from ..records import ConversationRecord, MessageRecord
from ..search_text import SearchQuery, indexed_words
from .base import Page

__all__ = ["Entry", "SearchCache", "SearchChanges", "UserIndex"]

_ENTRY_OVERHEAD = 200  # bytes an entry costs beyond its words: keys, tuple, postings


class Entry(NamedTuple):
    """One indexed title (`message_id` None) or message."""

    created_at: str
    key: str  # the message id, or the conversation id for a title
    conversation_id: str
    message_id: str | None
    words: str


class UserIndex:
    """One user's titles and messages: entries by key, and word -> keys postings."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self.by_conversation: dict[str, set[str]] = {}
        self._postings: dict[str, set[str]] = {}
        self._vocabulary: list[str] | None = []  # sorted; None when a new word must be sorted in
        self.size = 0

    def add(self, entry: Entry) -> None:
        """Index an entry, replacing any with its key."""
        self.remove(entry.key)
        self.entries[entry.key] = entry
        self.by_conversation.setdefault(entry.conversation_id, set()).add(entry.key)
        for word in set(entry.words.split()):
            keys = self._postings.get(word)
            if keys is None:
                keys = self._postings[sys.intern(word)] = set()
                self._vocabulary = None
            keys.add(entry.key)
        self.size += len(entry.words) + _ENTRY_OVERHEAD

    def add_all(self, entries: list[Entry]) -> None:
        """Index several entries."""
        for entry in entries:
            self.add(entry)

    def remove(self, key: str) -> None:
        """Forget an entry, if indexed."""
        entry = self.entries.pop(key, None)
        if entry is None:
            return
        self.by_conversation.get(entry.conversation_id, set()).discard(key)
        for word in set(entry.words.split()):
            keys = self._postings.get(word)
            if keys is not None:
                keys.discard(key)
                if not keys:  # left in the vocabulary: a prefix finds an empty set there
                    del self._postings[word]
                    self._vocabulary = None
        self.size -= len(entry.words) + _ENTRY_OVERHEAD

    def remove_conversation(self, conversation_id: str, *, keep_title: bool) -> None:
        """Forget a thread's messages, and its title unless `keep_title`."""
        for key in list(self.by_conversation.get(conversation_id, ())):
            if not (keep_title and key == conversation_id):
                self.remove(key)
        if not keep_title:
            self.by_conversation.pop(conversation_id, None)

    def _prefixed(self, prefix: str) -> set[str]:
        if self._vocabulary is None:
            self._vocabulary = sorted(self._postings)
        found: set[str] = set()
        start = bisect.bisect_left(self._vocabulary, prefix)
        for word in self._vocabulary[start:]:
            if not word.startswith(prefix):
                break
            found |= self._postings.get(word, set())
        return found

    def search(self, query: SearchQuery, *, limit: int, offset: int) -> Page[Entry]:
        """The entries matching every term, newest first."""
        candidates: set[str] | None = None
        for word in sorted(set(query.words()), key=len, reverse=True):  # longest: likely the fewest
            keys = self._prefixed(word)
            candidates = keys if candidates is None else candidates & keys
            if not candidates:
                return Page(items=[], total=0)
        assert candidates is not None
        phrases = [
            pattern for term, pattern in zip(query.terms, query.patterns, strict=True) if len(term) > 1
        ]
        chosen = [
            self.entries[key]
            for key in candidates
            if all(pattern.search(self.entries[key].words) for pattern in phrases)
        ]
        newest = heapq.nlargest(offset + limit, chosen)
        return Page(items=newest[offset:], total=len(chosen))


def title_entry(conversation: ConversationRecord) -> Entry:
    """The entry of a thread's title."""
    return Entry(
        conversation["created_at"],
        conversation["id"],
        conversation["id"],
        None,
        indexed_words(conversation["title"]),
    )


def message_entry(message: MessageRecord) -> Entry:
    """The entry of a stored message."""
    return Entry(
        message["created_at"],
        message["id"],
        message["conversation_id"],
        message["id"],
        indexed_words(message["content"]),
    )


Change = Callable[[UserIndex], None]


class SearchChanges:
    """What one unit of work does to the indexes, applied only if it commits."""

    def __init__(self) -> None:
        self.changes: list[tuple[str, Change]] = []
        self.dropped: set[str] = set()  # users whose whole index goes (every thread deleted)

    def add(self, user_id: str, change: Change) -> None:
        """Apply `change` to the user's index once the unit commits."""
        self.changes.append((user_id, change))


class SearchCache:
    """The users' indexes in memory, least recently used dropped first beyond `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self._indexes: OrderedDict[str, UserIndex] = OrderedDict()
        self._guard = threading.Lock()
        self._max_bytes = max_bytes

    def get(self, user_id: str, build: Callable[[], UserIndex]) -> UserIndex:
        """The user's index, built by `build` if not in memory; call under the user's lock."""
        with self._guard:
            index = self._indexes.get(user_id)
            if index is not None:
                self._indexes.move_to_end(user_id)
                return index
        index = build()
        with self._guard:
            self._indexes[user_id] = index
            self._trim(keep=user_id)
        return index

    def apply(self, changes: SearchChanges) -> None:
        """Bring the indexes in memory up to date with a committed unit (others are built later)."""
        with self._guard:
            for user_id in changes.dropped:
                self._indexes.pop(user_id, None)
            for user_id, change in changes.changes:
                index = self._indexes.get(user_id)
                if index is not None:
                    change(index)
            self._trim(keep=None)

    def forget(self, user_ids: set[str]) -> None:
        """Drop these users' indexes (a unit that built one was abandoned)."""
        with self._guard:
            for user_id in user_ids:
                self._indexes.pop(user_id, None)

    def _trim(self, keep: str | None) -> None:
        total = sum(index.size for index in self._indexes.values())
        for user_id in list(self._indexes):
            if total <= self._max_bytes:
                break
            if user_id != keep:
                total -= self._indexes.pop(user_id).size
