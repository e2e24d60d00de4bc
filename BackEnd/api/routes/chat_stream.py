"""Streaming the model's answer as Server-Sent Events (`fastapi.sse`)."""

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.sse import EventSourceResponse, ServerSentEvent

from ...services.chat_stream import StreamEvent
from ..deps import StartedStream
from ..errors import BODY_ERRORS, json_responses, status_and_detail

__all__ = ["event_data", "router"]

# Its own router: a stream's errors are JSON while its success is not (see json_responses).
router = APIRouter(prefix="/ai", tags=["chat"])


@router.post(
    "/chat/stream",
    response_class=EventSourceResponse,
    responses=json_responses(401, 404, 409, 429, 503, *BODY_ERRORS),
)
async def stream_chat_message(turn: StartedStream) -> AsyncIterator[ServerSentEvent]:
    """Send a message and receive the answer as it is written: `start`, `delta`s, then `done` or `error`.

    The body is `/ai/chat`'s; the turn is stored whole once the answer ends, even if the client
    has gone away meanwhile (see the README's event protocol).
    """
    yield ServerSentEvent(event="start", data=turn.start.data)
    async with turn.events:
        async for event in turn.events:
            yield ServerSentEvent(event=event.kind, data=event_data(event))


def event_data(event: StreamEvent) -> dict[str, Any]:
    """An event's JSON fields; an error becomes the status and sentence `/ai/chat` would answer."""
    if event.error is None:
        return event.data
    status, detail = status_and_detail(event.error)
    return {"status": status, "detail": detail}
