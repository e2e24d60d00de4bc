"""Streaming the model's answer as Server-Sent Events (`fastapi.sse`)."""

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import APIRouter, Response
from fastapi.sse import KEEPALIVE_COMMENT, EventSourceResponse, format_sse_event

from ...chat_schemas import ChatRequest
from ...services import chat_stream
from ...services.chat_stream import StreamEvent, StreamTurn
from ..deps import ContextDep, CurrentUser
from ..errors import BODY_ERRORS, json_responses, status_and_detail
from ..turns import turn_arguments

__all__ = ["EVENTS", "DocumentedAsEventStream", "event_data", "event_stream", "router"]

# Its own router: a stream's errors are JSON while its success is not (see json_responses).
router = APIRouter(prefix="/ai", tags=["chat"])


class DocumentedAsEventStream(Response):
    """No media type of its own, so the 200 is documented by `EVENTS` alone.

    The route returns fastapi.sse's EventSourceResponse, but FastAPI drives every route
    declared with `response_class=EventSourceResponse` as a generator endpoint.
    """

    media_type = None


_EVENT_ITEM = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["start", "delta", "done", "error", "end"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
    },
}
EVENTS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The answer as it is written (see the README's event protocol)",
        "content": {"text/event-stream": {"itemSchema": _EVENT_ITEM}},
    }
}


@router.post(
    "/chat/stream",
    response_class=DocumentedAsEventStream,
    responses=EVENTS | json_responses(401, 404, 409, 429, 503, *BODY_ERRORS),
)
async def stream_chat_message(
    body: ChatRequest, user: CurrentUser, context: ContextDep
) -> EventSourceResponse:
    """Send a message and receive the answer as it is written: `start`, `delta`s, then `done` or `error`.

    With `models` (issue 10) every event names its `model`, each model ends with its own `done`
    or `error`, and a last `end` event `{conversation_id}` closes the stream.

    The body is `/ai/chat`'s; what fails before the model is asked answers plain JSON as there.
    The turn is stored whole once the answer ends, even if the client has gone away meanwhile
    (see the README's event protocol).
    """
    turn = await chat_stream.start_stream(
        context.database,
        context.chat_model,
        context.generations,
        message=body.message,
        conversation_id=body.conversation_id,
        **turn_arguments(context, user, body),
        images=body.images,
        titles=context.titles,
    )
    return event_stream(turn)


def event_stream(turn: StreamTurn) -> EventSourceResponse:
    """A started turn's events as Server-Sent Events."""
    # fastapi.sse's response and encoder, fed directly rather than through a generator endpoint:
    # its per-event validation and keep-alive timer measured two thirds of the CPU of a delta.
    return EventSourceResponse(
        _encoded(turn), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


async def _encoded(turn: StreamTurn) -> AsyncIterator[bytes]:
    yield _sse(turn.start)
    async with turn.events:
        async for event in turn.events:
            # Events that queued up while the server was busy leave in one write: the same
            # events, fewer trips through the middleware and the socket (measured under load).
            ready = [event]
            while True:
                try:
                    ready.append(turn.events.receive_nowait())
                except (anyio.WouldBlock, anyio.EndOfStream):
                    break
            yield b"".join(KEEPALIVE_COMMENT if one.kind == "ping" else _sse(one) for one in ready)


def _sse(event: StreamEvent) -> bytes:
    return format_sse_event(event=event.kind, data_str=json.dumps(event_data(event), ensure_ascii=False))


def event_data(event: StreamEvent) -> dict[str, Any]:
    """An event's JSON fields; an error becomes the status and sentence `/ai/chat` would answer."""
    if event.error is None:
        return event.data
    status, detail = status_and_detail(event.error)
    return {**event.data, "status": status, "detail": detail}
