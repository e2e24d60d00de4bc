"""RecentEvents kept in memory: the TinyDB backend's, since one process owns its data folder."""

from __future__ import annotations

import threading
from collections import deque

from .base import RecentEvents

__all__ = ["MemoryEvents", "seconds_until_under"]

_SWEEP_ABOVE = 10_000


def seconds_until_under(times: list[float], *, now: float, window: float, limit: int) -> float | None:
    """With `times` (oldest first, all within the window), how long until fewer than `limit` remain."""
    if limit <= 0 or len(times) < limit:
        return None
    # The key is under the limit again once all but limit-1 of these have left the window.
    return max(times[len(times) - limit] + window - now, 0.001)


class MemoryEvents(RecentEvents):
    """Per key, the times of its recent events; thread-safe. Lost on restart (throttling restarts too)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._times: dict[str, deque[float]] = {}

    def take(self, key: str, *, now: float, window: float, limit: int, record: bool) -> float | None:
        with self._lock:
            if len(self._times) > _SWEEP_ABOVE:  # keys never looked up again (many emails tried)
                self._times = {k: t for k, t in self._times.items() if t and t[-1] > now - window}
            times = self._times.get(key)
            if times is not None:
                while times and times[0] <= now - window:
                    times.popleft()
                if not times:
                    del self._times[key]
                    times = None
            wait = seconds_until_under(list(times or ()), now=now, window=window, limit=limit)
            if wait is None and record:
                self._times.setdefault(key, deque()).append(now)
            return wait

    def add(self, key: str, *, now: float) -> None:
        with self._lock:
            self._times.setdefault(key, deque()).append(now)

    def clear(self, key: str) -> None:
        with self._lock:
            self._times.pop(key, None)
