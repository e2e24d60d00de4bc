"""Search words: case and accent folding, query parsing, matching, and highlighted snippets."""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from dataclasses import dataclass

__all__ = [
    "MAX_QUERY_WORDS",
    "SNIPPET_CHARS",
    "TOTAL_CAP",
    "SearchQuery",
    "counted_total",
    "counting_limit",
    "fold",
    "indexed_words",
    "matches",
    "parse_query",
    "snippet",
    "word_set",
]

MAX_QUERY_WORDS = 16
SNIPPET_CHARS = 200
# Matches are counted exactly up to this many (or to the end of the page asked, if further):
# counting thousands of hits is what a common word costs, and no one pages through them.
TOTAL_CAP = 1000
_CONTEXT_BEFORE = 50  # visible characters kept before the first match
_WORD = re.compile(r"[^\W_]+")
_ASCII_WORD = re.compile(r"[a-z0-9]+")
# Bytes: every ASCII character but a lower-case letter or a digit becomes a space (bytes.translate is C).
_ASCII_SEPARATORS = bytes(
    c if chr(c).isalnum() and not chr(c).isupper() and c < 128 else 32 for c in range(256)
)
# A word of the original text: letters and digits with their combining accents ("E\u0301cole").
_TEXT_WORD = re.compile(r"(?:[^\W_]|[\u0300-\u036f])+")


def fold(text: str) -> str:
    """Lower case without accents: `École` and `ÉCOLE` both give `ecole`."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def indexed_words(text: str) -> str:
    """The folded words of `text`, one space between them: what every index stores and matches."""
    if text.isascii():  # most messages: one pass in C (ASCII letters and digits are the words)
        return " ".join(text.lower().encode("ascii").translate(_ASCII_SEPARATORS).decode("ascii").split())
    return " ".join(_WORD.findall(fold(text)))


def word_set(text: str) -> set[str]:
    """The distinct `indexed_words` of `text` (what an index posts), without joining them first."""
    if text.isascii():
        return set(text.lower().encode("ascii").translate(_ASCII_SEPARATORS).decode("ascii").split())
    return set(_WORD.findall(fold(text)))


@dataclass(frozen=True)
class SearchQuery:
    """What `q` asks: every term must match; a term is one word or a quoted phrase's words in a row.

    Each word matches as the prefix of a stored word (`photo` finds `photosynthèse`).
    """

    terms: tuple[tuple[str, ...], ...]

    def words(self) -> list[str]:
        """Every word of every term, in order."""
        return [word for term in self.terms for word in term]

    @functools.cached_property
    def patterns(self) -> tuple[re.Pattern[str], ...]:
        """One regex per term, finding it in `indexed_words` text."""
        return tuple(
            re.compile("(?<!\\S)" + " ".join(re.escape(word) + "\\S*" for word in term))
            for term in self.terms
        )


def parse_query(text: str) -> SearchQuery:
    """The terms of a query; ValueError when it has no word or too many.

    Text between double quotes is a phrase (an unclosed quote runs to the end); the rest
    is single words. Punctuation separates words, as it does in stored text.
    """
    terms: list[tuple[str, ...]] = []
    for position, part in enumerate(text.split('"')):
        words = tuple(_WORD.findall(fold(part)))
        candidates = [words] if position % 2 == 1 else [(word,) for word in words]
        for term in candidates:
            if term and term not in terms:
                terms.append(term)
    if not terms:
        raise ValueError("the query has no word to search for")
    if sum(len(term) for term in terms) > MAX_QUERY_WORDS:
        raise ValueError(f"the query has more than {MAX_QUERY_WORDS} words")
    return SearchQuery(terms=tuple(terms))


def counted_total(found: int, *, limit: int, offset: int) -> tuple[int, bool]:
    """The `total` to report when `found` matches were counted, and whether it is a lower bound.

    A search counts at most `counting_limit` + 1 matches; past that it reports the limit.
    """
    ceiling = counting_limit(limit=limit, offset=offset)
    return (ceiling, True) if found > ceiling else (found, False)


def counting_limit(*, limit: int, offset: int) -> int:
    """How many matches a search counts exactly: TOTAL_CAP, or to the end of the page if further."""
    return max(TOTAL_CAP, offset + limit)


def matches(words: str, query: SearchQuery) -> bool:
    """Whether text stored as `indexed_words` satisfies every term of the query."""
    return all(pattern.search(words) for pattern in query.patterns)


def _match_spans(text: str, query: SearchQuery) -> list[tuple[int, int]]:
    """The spans of `text` (original characters) that make up an occurrence of some term."""
    pieces: list[tuple[str, int, int]] = []  # folded word, start and end in `text`
    if text.isascii():  # lower() keeps every position
        pieces = [(found.group(), found.start(), found.end()) for found in _ASCII_WORD.finditer(text.lower())]
    else:
        for found in _TEXT_WORD.finditer(text):
            pieces += [(word, found.start(), found.end()) for word in _WORD.findall(fold(found.group()))]
    words = [piece[0] for piece in pieces]
    marked: set[int] = set()
    for term in query.terms:
        head = term[0]
        for first in [n for n, word in enumerate(words) if word.startswith(head)]:
            if all(
                word.startswith(part) for word, part in zip(words[first + 1 :], term[1:], strict=False)
            ) and (first + len(term) <= len(words)):
                marked.update(range(first, first + len(term)))
    spans: list[tuple[int, int]] = []
    for index in sorted(marked):
        start, end = pieces[index][1], pieces[index][2]
        if spans and spans[-1][1] >= start:  # two folded words of one original word
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans


def snippet(text: str, query: SearchQuery) -> str:
    """At most SNIPPET_CHARS visible characters of `text` around its first match, as safe HTML.

    Everything is HTML-escaped and each match is wrapped in `<mark>…</mark>`, so a page can
    show it as it is. Runs of white space become one space; `…` marks a cut.
    """
    flat = " ".join(text.split())
    spans = _match_spans(flat, query)
    start, end = 0, len(flat)
    lead = trail = ""
    if len(flat) > SNIPPET_CHARS:
        first = spans[0][0] if spans else 0
        start = max(0, first - _CONTEXT_BEFORE)
        lead = "…" if start > 0 else ""
        end = start + SNIPPET_CHARS - len(lead)
        if end >= len(flat):  # near the end: use the room before instead
            end = len(flat)
            start = max(0, end - SNIPPET_CHARS + 1)
            lead = "…"
        else:
            end -= 1
            trail = "…"
    pieces = [lead]
    position = start
    for span_start, span_end in spans:
        span_start, span_end = max(span_start, start), min(span_end, end)
        if span_start >= span_end:
            continue
        pieces += [html.escape(flat[position:span_start]), "<mark>", html.escape(flat[span_start:span_end])]
        pieces.append("</mark>")
        position = span_end
    pieces += [html.escape(flat[position:end]), trail]
    return "".join(pieces)
