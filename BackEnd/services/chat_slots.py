"""Per-account chat slots: at most a few model calls of one account are in flight at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from ..errors import TooManyChatsInFlight

__all__ = ["RETRY_AFTER_SECONDS", "ChatSlots", "LocalChatSlots"]

# A slot frees as soon as one of the account's calls ends, and answers take seconds; a refused
# request costs the server only its token check, so a retry this soon is cheap either way.
RETRY_AFTER_SECONDS = 5


class ChatSlots(Protocol):
    """Where the count of each account's model calls in flight is kept.

    `LocalChatSlots` keeps it in this process. An implementation backed by the database (a
    row per call in flight, with an expiry for calls of a crashed process) would make the
    limit hold across processes without changing its callers.
    """

    def reserve(self, user_id: str) -> AbstractAsyncContextManager[None]:
        """Hold one of the account's slots for the block, or raise TooManyChatsInFlight at once."""
        ...


class LocalChatSlots:
    """Chat slots counted in this process: with WORKERS=N an account may hold N times as many."""

    def __init__(self, per_account: int, *, retry_after_seconds: int = RETRY_AFTER_SECONDS) -> None:
        self._per_account = per_account
        self._retry_after = str(retry_after_seconds)
        # Only accounts with a call in flight have an entry, so the map never outgrows the load.
        self._in_flight: dict[str, int] = {}

    @asynccontextmanager
    async def reserve(self, user_id: str) -> AsyncIterator[None]:
        """Hold one of the account's slots for the block, or raise TooManyChatsInFlight at once."""
        # No await between the check and the count: on one event loop nothing runs in between.
        held = self._in_flight.get(user_id, 0)
        if held >= self._per_account:
            raise TooManyChatsInFlight(
                f"You already have {self._per_account} messages waiting for an answer; "
                "wait for one of them to be answered, then send this one again.",
                retry_after=self._retry_after,
            )
        self._in_flight[user_id] = held + 1
        try:
            yield
        finally:  # also when the call fails or the request is cancelled
            self._release(user_id)

    def in_flight(self, user_id: str) -> int:
        """How many of the account's model calls are in flight in this process."""
        return self._in_flight.get(user_id, 0)

    def busy_accounts(self) -> int:
        """How many accounts have a model call in flight in this process."""
        return len(self._in_flight)

    def _release(self, user_id: str) -> None:
        remaining = self._in_flight[user_id] - 1
        if remaining:
            self._in_flight[user_id] = remaining
        else:
            del self._in_flight[user_id]
