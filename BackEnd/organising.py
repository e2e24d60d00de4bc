"""The rules of a conversation's organising fields (favourite, archive, folder, tags) and text folding."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "MAX_FOLDER_CHARS",
    "MAX_TAGS",
    "MAX_TAG_CHARS",
    "ORGANISING_DEFAULTS",
    "PREVIEW_CHARS",
    "fold",
    "normalise_tag",
    "normalise_tags",
    "organising_problem",
    "preview_of",
]

ORGANISING_DEFAULTS: dict[str, object] = {"is_favorite": False, "archived": False, "folder": None, "tags": []}
PREVIEW_CHARS = 120
MAX_FOLDER_CHARS = 100
MAX_TAG_CHARS = 40
MAX_TAGS = 20


def normalise_tag(tag: str) -> str:
    """A tag as stored: trimmed and lower-cased; ValueError if it is then empty or too long."""
    normalised = tag.strip().lower()
    if not 1 <= len(normalised) <= MAX_TAG_CHARS:
        raise ValueError(f"a tag must be 1 to {MAX_TAG_CHARS} characters once trimmed")
    return normalised


def normalise_tags(tags: Iterable[str]) -> list[str]:
    """Each tag normalised, repeats dropped, in A→Z order; ValueError past MAX_TAGS."""
    normalised = sorted({normalise_tag(tag) for tag in tags})
    if len(normalised) > MAX_TAGS:
        raise ValueError(f"a conversation has at most {MAX_TAGS} tags")
    return normalised


def organising_problem(doc: Mapping[str, Any]) -> str | None:
    """Why a stored conversation's organising fields (when present) are malformed, or None."""
    for flag in ("is_favorite", "archived"):
        if not isinstance(doc.get(flag, False), bool):
            return f"has no valid {flag!r}"
    folder = doc.get("folder")
    if folder is not None and not (isinstance(folder, str) and 1 <= len(folder) <= MAX_FOLDER_CHARS):
        return "has no valid 'folder'"
    tags = doc.get("tags", [])
    if not isinstance(tags, list) or len(tags) > MAX_TAGS:
        return "has no valid 'tags'"
    if any(not isinstance(tag, str) or not 1 <= len(tag) <= MAX_TAG_CHARS for tag in tags):
        return "has no valid 'tags'"
    if len(set(tags)) != len(tags):
        return "repeats a tag"
    return None


def preview_of(content: str | None) -> str | None:
    """The list's glimpse of a thread: the first characters of its last message."""
    return None if content is None else content[:PREVIEW_CHARS]


@functools.lru_cache(maxsize=65_536)
def fold(text: str) -> str:
    """Text as title search and title order compare it: case and accents ignored ("École" -> "ecole")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()
