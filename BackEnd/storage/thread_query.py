"""A ThreadQuery applied to records in memory (the TinyDB backend; SQL turns it into WHERE clauses)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..organising import fold
from .base import IN_NO_FOLDER, ThreadQuery

__all__ = ["select_threads"]


def _matches(record: Mapping[str, Any], query: ThreadQuery) -> bool:
    if query.folder is not None and (record.get("folder") or IN_NO_FOLDER) != query.folder:
        return False
    if query.favorite is not None and bool(record.get("is_favorite")) != query.favorite:
        return False
    if query.archived is not None and bool(record.get("archived")) != query.archived:
        return False
    if query.tags and not set(query.tags) <= set(record.get("tags") or ()):
        return False
    return query.title is None or query.title in fold(record["title"])


def select_threads(records: Iterable[dict[str, Any]], query: ThreadQuery) -> list[dict[str, Any]]:
    """The records `query` selects, in its order; each record's `updated_at` is already final."""
    chosen = [record for record in records if _matches(record, query)]
    if query.sort == "title":
        chosen.sort(key=lambda record: (fold(record["title"]), record["title"], record["id"]))
    else:
        chosen.sort(key=lambda record: (record[query.sort], record["id"]), reverse=True)
    return chosen
