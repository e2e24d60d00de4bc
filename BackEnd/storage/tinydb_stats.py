"""Per-account figures on TinyDB: sums over the thread summaries the backend keeps in memory."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from .base import AccountTotals, Stats, UserStats

if TYPE_CHECKING:
    from .tinydb_units import TinyUnitOfWork

__all__ = ["TinyStats", "label_counts"]


def label_counts(records: Iterable[Mapping[str, Any]], field: str) -> dict[str, int]:
    """How many records carry each value of `field` (a folder name, or each of a list of tags)."""
    counts: Counter[str] = Counter()
    for record in records:
        value = record.get(field)
        if isinstance(value, list):
            counts.update(value)
        elif value:
            counts[value] += 1
    return dict(counts)


class TinyStats(Stats):
    """Message figures come from each thread's summary (kept at commit, see summaries.py), never
    from its file; conversation figures from the user's conversations file, which is in memory."""

    def __init__(self, unit: TinyUnitOfWork) -> None:
        self._unit = unit

    def of(self, user_id: str, *, since_day: str) -> UserStats:
        self._unit.lock_user(user_id)
        threads = self._unit.files.conversations(user_id).shared_records()
        summaries = [self._unit.summary(thread["id"]) for thread in threads]
        by_day: Counter[str] = Counter()
        for summary in summaries:
            by_day.update({day: n for day, n in summary.days.items() if day >= since_day})
        firsts = [summary.first for summary in summaries if summary.count]
        return UserStats(
            conversations=len(threads),
            messages=sum(summary.count for summary in summaries),
            favorites=sum(1 for thread in threads if thread.get("is_favorite")),
            archived=sum(1 for thread in threads if thread.get("archived")),
            folders=len(label_counts(threads, "folder")),
            tags=len(label_counts(threads, "tags")),
            first_message_at=min(firsts, default=None),
            last_message_at=max((summary.last for summary in summaries if summary.count), default=None),
            by_day=dict(by_day),
        )

    def totals(self, user_ids: Sequence[str]) -> dict[str, AccountTotals]:
        totals: dict[str, AccountTotals] = {}
        for user_id in user_ids:
            # Each account's lock only while it is read, so this never holds one and waits for another.
            held = user_id in self._unit.locked_users
            with nullcontext() if held else self._unit.files.lock(user_id):
                ids = self._unit.files.conversations(user_id).ids()
                messages = sum(self._unit.summary(conversation_id).count for conversation_id in ids)
            totals[user_id] = AccountTotals(conversations=len(ids), messages=messages)
        return totals
