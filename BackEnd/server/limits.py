"""The connection limits of one server process, with the cap derived from its open-file limit."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from ..config import Settings

__all__ = ["DEFAULT_MAX_CONNECTIONS", "RESERVED_FILES", "ConnectionLimits", "connection_limits"]

# Beyond the cap no client connection is accepted, so the fds this reserve keeps are always there
# to serve the accepted ones: up to 250 upstream sockets (llm.PoolSet: 25 pools of 10), 15
# database connections (SQLAlchemy's pool), the data files, logs, the event loop's own fds,
# and the connections accepted in one burst before they can be counted and turned away.
RESERVED_FILES = 512
DEFAULT_MAX_CONNECTIONS = 1000


@dataclass(frozen=True)
class ConnectionLimits:
    """What one server process allows each client connection (picklable for uvicorn's workers)."""

    max_header_bytes: int
    header_timeout_seconds: float
    keepalive_timeout_seconds: float
    max_connections: int


def connection_limits(settings: Settings) -> ConnectionLimits:
    """The limits for `settings`; raises ValueError when MAX_CONNECTIONS leaves no room to serve.

    Raises this process's soft open-file limit to its hard limit first (children inherit it).
    """
    open_files = _raise_open_file_limit()
    return ConnectionLimits(
        max_header_bytes=settings.max_header_bytes,
        header_timeout_seconds=settings.header_timeout_seconds,
        keepalive_timeout_seconds=settings.keepalive_timeout_seconds,
        max_connections=_connection_cap(settings.max_connections, open_files),
    )


def _connection_cap(requested: int | None, open_files: int | None) -> int:
    if open_files is None:  # no such limit on this platform
        return requested or DEFAULT_MAX_CONNECTIONS
    room = open_files - RESERVED_FILES
    if requested is None and room >= 1:
        return min(DEFAULT_MAX_CONNECTIONS, room)
    if requested is not None and requested <= room:
        return requested
    needed = f"MAX_CONNECTIONS={requested} needs" if requested else "serving needs"
    raise ValueError(
        f"{needed} at least {(requested or 1) + RESERVED_FILES} open files per process "
        f"({RESERVED_FILES} are kept for upstream, database and data files), but this process "
        f"may open only {open_files} (`ulimit -n`): lower MAX_CONNECTIONS or raise the limit"
    )


def _raise_open_file_limit() -> int | None:
    """The soft RLIMIT_NOFILE after raising it to the hard one; None where there is no such limit."""
    if sys.platform == "win32":
        return None
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # Linux refuses an unlimited soft limit for open files: keep the soft one then.
    if soft != hard and hard != resource.RLIM_INFINITY:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):  # some sandboxes refuse; the soft limit still holds
            pass
    return None if soft == resource.RLIM_INFINITY else soft
