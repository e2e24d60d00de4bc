"""The events a streamed turn sends, shared by the one-model and the several-model generations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from ..errors import AssistantIAError

__all__ = ["STOPPED", "EventKind", "StreamEvent", "emit"]

STOPPED = "stopped"
# `end` closes a several-model stream (issue 10) once every model sent its `done` or `error`.
EventKind = Literal["start", "delta", "done", "error", "ping", "end"]


@dataclass(frozen=True)
class StreamEvent:
    """One event of a streamed turn; an `error` event carries the domain error, mapped by the API.

    `ping` events keep a silent connection alive (SSE sends a comment; a WebSocket needs none).
    An error's `data` holds only what names its source (a several-model turn's `model`).
    """

    kind: EventKind
    data: dict[str, Any] = field(default_factory=dict)
    error: AssistantIAError | None = None


def emit(send: MemoryObjectSendStream[StreamEvent], event: StreamEvent) -> None:
    """Queue `event` for the reader, if one is still there."""
    try:
        send.send_nowait(event)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError):
        pass  # the client went away: the generation goes on and stores the turn regardless
