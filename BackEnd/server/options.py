"""uvicorn's options for serving the app: where to listen, and the guarded protocol with its limits."""

from __future__ import annotations

import functools
import logging
from typing import Any

from ..api.limits import MAX_CHAT_BYTES
from ..config import Settings
from .limits import ConnectionLimits
from .protocol import GuardedHttpToolsProtocol

__all__ = ["server_options"]

logger = logging.getLogger(__name__)


def server_options(settings: Settings, limits: ConnectionLimits) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run`, and the limits said in the log.

    The protocol goes as a picklable `functools.partial`, so every worker process gets the limits.
    """
    logger.info(
        "Limits per server process: %d connections, request headers of at most %d bytes within "
        "%g s, idle connections closed after %g s.",
        limits.max_connections,
        limits.max_header_bytes,
        limits.header_timeout_seconds,
        limits.keepalive_timeout_seconds,
    )
    return {
        "host": settings.host,
        "port": settings.port,
        "http": functools.partial(GuardedHttpToolsProtocol, limits=limits),
        # WebSocket messages are chat bodies: the cap of an HTTP chat body, images included (issue 10).
        "ws": "websockets-sansio",
        "ws_max_size": MAX_CHAT_BYTES,
    }
