"""What the TinyDB backend keeps in memory about each thread: size, preview, times, messages per day."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..organising import preview_of

__all__ = ["EMPTY", "ThreadSummary", "summarise"]


@dataclass(frozen=True)
class ThreadSummary:
    """A thread's figures, read from its file at start-up and replaced by each commit that changes it.

    Kept so that the conversation list (message_count, preview) and the account's stats never
    read a thread's history: a list of 200 threads costs no more than its conversations file.
    """

    count: int = 0
    first: str = ""  # "" while the thread has no message
    last: str = ""
    preview: str | None = None
    days: Mapping[str, int] = field(default_factory=dict)  # "YYYY-MM-DD": messages that day

    def plus(self, messages: Iterable[Mapping[str, Any]]) -> ThreadSummary:
        """The summary once `messages` are added."""
        days = dict(self.days)
        count, first, last, preview = self.count, self.first, self.last, self.preview
        for message in messages:
            moment = message["created_at"]
            days[moment[:10]] = days.get(moment[:10], 0) + 1
            count += 1
            first = moment if not first or moment < first else first
            if moment >= last:
                last, preview = moment, preview_of(message["content"])
        return ThreadSummary(count=count, first=first, last=last, preview=preview, days=days)


EMPTY = ThreadSummary()


def summarise(messages: Iterable[Mapping[str, Any]]) -> ThreadSummary:
    """The summary of a whole thread."""
    return EMPTY.plus(messages)
