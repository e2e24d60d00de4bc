"""PostgreSQL's LISTEN/NOTIFY as the signal channel between the processes sharing one database."""

from __future__ import annotations

import logging

import anyio
import psycopg
from sqlalchemy import Engine, text

from ..signals import SignalChannel, SignalHandler

__all__ = ["PostgresSignals"]

logger = logging.getLogger(__name__)

_CHANNEL = "assistantia_signals"
_RETRY_SECONDS = 1.0


class PostgresSignals(SignalChannel):
    """NOTIFY through the engine's pool; LISTEN on one connection of its own, reopened if it drops."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # psycopg's own URL: SQLAlchemy's names its driver ("postgresql+psycopg://").
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def publish(self, message: str) -> None:
        await anyio.to_thread.run_sync(self._notify, message)

    def _notify(self, message: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                text("SELECT pg_notify(:channel, :message)"), {"channel": _CHANNEL, "message": message}
            )

    async def listen(self, handler: SignalHandler) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True
                ) as connection:
                    await connection.execute(f"LISTEN {_CHANNEL}")
                    async for notice in connection.notifies():
                        handler(notice.payload)
            except (psycopg.Error, OSError) as exc:
                # The database restarted or the network blinked: stops sent meanwhile are lost,
                # the generations they aimed at still end within LLM_TIMEOUT_SECONDS.
                logger.warning("Lost the signal channel to PostgreSQL (%s); reconnecting", type(exc).__name__)
            await anyio.sleep(_RETRY_SECONDS)
