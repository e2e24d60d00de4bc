"""The TinyDB search index: per user, in memory, built from that user's files on first search.

Nothing is written for it: the thread files are the truth and the index is derived from them,
so it is crash-safe by construction and start-up reads nothing for it. A user's index is built
the first time they search (their files only, under their lock), then kept up to date by each
committed unit of work (`SearchChanges`), and dropped least recently used first beyond
SEARCH_INDEX_CACHE_BYTES. Word prefixes are found by bisecting the sorted vocabulary; postings
are arrays of entry numbers, about 4 bytes per distinct word of a message.
"""

from __future__ import annotations

import bisect
import heapq
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable
from typing import NamedTuple, TypeAlias

from ..records import ConversationRecord, MessageRecord
from ..search_text import SearchQuery, counted_total, counting_limit, indexed_words
from .base import Page

__all__ = ["Entry", "SearchCache", "SearchChanges", "UserIndex"]

# Estimated bytes of memory per entry (its tuple and id strings) and per word posted.
_ENTRY_BYTES = 260
_POSTING_BYTES = 4
_WORD_BYTES = 100  # the word, its dict slot; a word of one entry holds its number, not an array

# Most words are in one entry only (names, numbers, typos): an array for each cost 116 bytes.
Postings: TypeAlias = "int | array[int]"


class Entry(NamedTuple):
    """One indexed title (`message_id` None) or message; compares newest last (time, then key)."""

    created_at: str
    key: str  # the message id, or the conversation id for a title
    conversation_id: str
    message_id: str | None


class UserIndex:
    """One user's titles and messages: word -> numbers of the entries holding it.

    Only the words' postings are kept, not the text (a phrase is checked against the stored
    text of its few candidates), so an index is a small fraction of the user's files. A removed
    entry leaves a hole that queries skip; postings are compacted once holes are many.
    """

    def __init__(self) -> None:
        self._entries: list[Entry | None] = []
        self._number: dict[str, int] = {}  # key: entry number
        self._by_conversation: dict[str, list[int]] = {}
        self._postings: dict[str, Postings] = {}
        self._vocabulary: list[str] | None = []  # sorted; None once a new word must be sorted in
        self._holes = 0
        self._posted = 0
        self.size = 0

    def add(self, entry: Entry, words: str) -> None:
        """Index an entry whose text has these `indexed_words`, replacing any with its key."""
        self.remove(entry.key)
        number = len(self._entries)
        self._entries.append(entry)
        self._number[entry.key] = number
        self._by_conversation.setdefault(entry.conversation_id, []).append(number)
        for word in set(words.split()):
            numbers = self._postings.get(word)
            if numbers is None:
                self._postings[word] = number
                self._vocabulary = None
            elif isinstance(numbers, int):
                self._postings[word] = array("I", (numbers, number))
            else:
                numbers.append(number)
            self._posted += 1
        self._resize()

    @classmethod
    def built(cls, entries: Iterable[tuple[Entry, Collection[str]]]) -> UserIndex:
        """An index of these entries (distinct keys) with their distinct words: `add` without its bookkeeping."""
        index = cls()
        listed: dict[str, list[int]] = {}  # lists while building: appending to them is cheaper
        append_entry, number_of, by_conversation = (
            index._entries.append,
            index._number,
            index._by_conversation,
        )
        for number, (entry, words) in enumerate(entries):
            append_entry(entry)
            number_of[entry.key] = number
            by_conversation.setdefault(entry.conversation_id, []).append(number)
            for word in words:
                numbers = listed.get(word)
                if numbers is None:
                    listed[word] = [number]
                else:
                    numbers.append(number)
        index._postings = {
            word: numbers[0] if len(numbers) == 1 else array("I", numbers) for word, numbers in listed.items()
        }
        index._vocabulary = None
        index._posted = sum(len(numbers) for numbers in listed.values())
        index._resize()
        return index

    def add_all(self, entries: list[tuple[Entry, str]]) -> None:
        """Index several entries with their words."""
        for entry, words in entries:
            self.add(entry, words)

    def remove(self, key: str) -> None:
        """Forget an entry, if indexed."""
        number = self._number.pop(key, None)
        if number is not None:
            self._entries[number] = None
            self._holes += 1
            if self._holes > 1000 and self._holes * 2 > len(self._entries):
                self._compact()

    def remove_conversation(self, conversation_id: str, *, keep_title: bool) -> None:
        """Forget a thread's messages, and its title unless `keep_title`."""
        for number in self._by_conversation.pop(conversation_id, []):
            entry = self._entries[number]
            if entry is not None and not (keep_title and entry.message_id is None):
                self.remove(entry.key)
        title = self._number.get(conversation_id)
        if title is not None:
            self._by_conversation[conversation_id] = [title]

    def _compact(self) -> None:
        for word, numbers in list(self._postings.items()):
            kept = [number for number in _numbers(numbers) if self._entries[number] is not None]
            if len(kept) > 1:
                self._postings[word] = array("I", kept)
            elif kept:
                self._postings[word] = kept[0]
            else:
                del self._postings[word]
        self._vocabulary = None
        self._posted = sum(len(_numbers(numbers)) for numbers in self._postings.values())
        self._holes = 0  # the holes left in `_entries` cost a pointer each
        self._resize()

    def _resize(self) -> None:
        self.size = len(self._entries) * _ENTRY_BYTES + self._posted * _POSTING_BYTES
        self.size += len(self._postings) * _WORD_BYTES

    def _prefixed(self, prefix: str) -> set[int]:
        if self._vocabulary is None:
            self._vocabulary = sorted(self._postings)
        found: set[int] = set()
        for word in self._vocabulary[bisect.bisect_left(self._vocabulary, prefix) :]:
            if not word.startswith(prefix):
                break
            found.update(_numbers(self._postings[word]))
        return found

    def search(
        self, query: SearchQuery, *, limit: int, offset: int, text_of: Callable[[Entry], str]
    ) -> Page[Entry]:
        """The entries matching every term, newest first; `text_of` gives a phrase candidate's text."""
        candidates: set[int] | None = None
        for word in sorted(set(query.words()), key=len, reverse=True):  # longest: likely the fewest
            found = self._prefixed(word)
            candidates = found if candidates is None else candidates & found
            if not candidates:
                return Page(items=[], total=0)
        entries = [entry for entry in map(self._entries.__getitem__, candidates or ()) if entry is not None]
        phrases = [
            pattern for term, pattern in zip(query.terms, query.patterns, strict=True) if len(term) > 1
        ]
        if not phrases:  # every candidate matches: only the page's entries need ordering
            total, capped = counted_total(len(entries), limit=limit, offset=offset)
            newest = heapq.nlargest(offset + limit, entries)
            return Page(items=newest[offset:], total=total, total_is_lower_bound=capped)
        # A phrase is checked against each candidate's text, newest first, until enough are counted.
        ceiling = counting_limit(limit=limit, offset=offset)
        matched: list[Entry] = []
        for entry in sorted(entries, reverse=True):
            if all(pattern.search(indexed_words(text_of(entry))) for pattern in phrases):
                matched.append(entry)
                if len(matched) > ceiling:
                    break
        total, capped = counted_total(len(matched), limit=limit, offset=offset)
        return Page(items=matched[offset : offset + limit], total=total, total_is_lower_bound=capped)


def _numbers(postings: Postings) -> array[int] | tuple[int]:
    """The entry numbers of a word's postings."""
    return (postings,) if isinstance(postings, int) else postings


def title_entry(conversation: ConversationRecord) -> tuple[Entry, str]:
    """The entry of a thread's title, with its words."""
    entry = Entry(conversation["created_at"], conversation["id"], conversation["id"], None)
    return entry, indexed_words(conversation["title"])


def message_entry(message: MessageRecord) -> tuple[Entry, str]:
    """The entry of a stored message, with its words."""
    entry = Entry(message["created_at"], message["id"], message["conversation_id"], message["id"])
    return entry, indexed_words(message["content"])


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
