"""Signals between the server's processes (a stop button pressed in one, a generation in another)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import anyio

__all__ = ["LocalSignals", "SignalChannel", "SignalHandler"]

SignalHandler = Callable[[str], None]


class SignalChannel(ABC):
    """A broadcast of short text messages to every process serving this database, the sender too.

    The backend provides it (`Database.signals()`): processes share nothing else, so only the
    database knows who else serves it.
    """

    @abstractmethod
    async def publish(self, message: str) -> None:
        """Deliver `message` to every listener of every process, soon (not necessarily before returning)."""

    @abstractmethod
    async def listen(self, handler: SignalHandler) -> None:
        """Call `handler` with each message published from now on; runs until cancelled."""


class LocalSignals(SignalChannel):
    """Delivery within this process: enough where one process serves the database (TinyDB, SQLite)."""

    def __init__(self) -> None:
        self._handlers: list[SignalHandler] = []

    async def publish(self, message: str) -> None:
        for handler in list(self._handlers):
            handler(message)

    async def listen(self, handler: SignalHandler) -> None:
        self._handlers.append(handler)
        try:
            await anyio.sleep_forever()
        finally:
            self._handlers.remove(handler)
