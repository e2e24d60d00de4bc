"""Each TinyDB thread's figures (size, preview, times, messages per day, usage), kept in memory and on disk."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..organising import preview_of
from .base import UsageTotals
from .usage_files import answer_figures
from .usage_pack import pack_lines

__all__ = ["EMPTY", "ThreadSummary", "summarise", "summary_from_record", "summary_record"]

_USAGE_FIELDS = ("messages", "prompt_tokens", "completion_tokens", "total_tokens", "cost")


@dataclass(frozen=True)
class ThreadSummary:
    """A thread's figures, replaced by each commit that changes the thread.

    Kept so that the conversation list (message_count, preview), the account's stats and the
    usage ledger never read a thread's history. Stored as the `summary` object of the thread's
    record in `conversations/<user_id>.json`, written with the messages in one commit, so
    start-up reads it instead of every message.
    """

    count: int = 0
    first: str = ""  # "" while the thread has no message
    last: str = ""
    preview: str | None = None
    days: Mapping[str, int] = field(default_factory=dict)  # "YYYY-MM-DD": messages that day
    usage: Mapping[tuple[str, str], UsageTotals] = field(default_factory=dict)  # (day, model): spent

    def plus(self, messages: Iterable[Mapping[str, Any]]) -> ThreadSummary:
        """The summary once `messages` are added."""
        days, usage = dict(self.days), dict(self.usage)
        count, first, last, preview = self.count, self.first, self.last, self.preview
        for message in messages:
            moment = message["created_at"]
            day = sys.intern(moment[:10])  # one string per day for every thread in memory
            days[day] = days.get(day, 0) + 1
            count += 1
            first = moment if not first or moment < first else first
            if moment >= last:
                last, preview = moment, preview_of(message["content"])
            figures = answer_figures(message)  # type: ignore[arg-type]
            if figures is not None:  # what start-up used to count from the stored answers
                key = (day, sys.intern(message["model"]))
                usage[key] = usage[key].plus(figures) if key in usage else figures
        return ThreadSummary(count=count, first=first, last=last, preview=preview, days=days, usage=usage)


EMPTY = ThreadSummary()


def summarise(messages: Iterable[Mapping[str, Any]]) -> ThreadSummary:
    """The summary of a whole thread."""
    return EMPTY.plus(messages)


def summary_record(summary: ThreadSummary) -> dict[str, Any]:
    """The `summary` object a conversation record stores: plain JSON a person can read."""
    return {
        "count": summary.count,
        "first": summary.first,
        "last": summary.last,
        "preview": summary.preview,
        "days": dict(sorted(summary.days.items())),
        "usage": [
            {"day": day, "model": model, **{name: getattr(figures, name) for name in _USAGE_FIELDS}}
            for (day, model), figures in sorted(summary.usage.items())
        ],
    }


def summary_from_record(stored: object) -> ThreadSummary | str:
    """The summary a record's `summary` object holds, or why it is not a valid one."""
    if not isinstance(stored, dict):
        return "is not an object"
    count, first, last, preview = (stored.get(name) for name in ("count", "first", "last", "preview"))
    days, lines = stored.get("days"), stored.get("usage")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        return "has no valid 'count'"
    if not (
        isinstance(first, str) and isinstance(last, str) and (preview is None or isinstance(preview, str))
    ):
        return "has no valid 'first', 'last' or 'preview'"
    if not isinstance(days, dict) or not set(map(type, days.values())) <= {int}:  # type(): no bool
        return "has no valid 'days'"
    usage = pack_lines(lines)  # compact, and checked a column at a time (usage_pack.py)
    if isinstance(usage, str):
        return usage
    # Interned: 20,000 threads repeat the same days and model names; one string each in memory.
    days = {sys.intern(day): n for day, n in days.items()}
    return ThreadSummary(count=count, first=first, last=last, preview=preview, days=days, usage=usage)
