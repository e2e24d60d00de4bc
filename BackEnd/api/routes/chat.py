"""Talking to the model: one answer at once, or streamed as Server-Sent Events."""

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent

from ...schemas import ChatReply, ChatRequest, StopRequest
from ...services import chat, chat_stream
from ..deps import ContextDep, CurrentUser, StartedStream
from ..errors import BODY_ERRORS, responses, status_and_detail

router = APIRouter(prefix="/ai", tags=["chat"], responses=responses(401, 503))


@router.post("/chat", responses=responses(404, 409, 429, 502, 504, *BODY_ERRORS))
async def send_chat_message(body: ChatRequest, user: CurrentUser, context: ContextDep) -> ChatReply:
    """Send a message and get the model's answer; both are stored only if it answered."""
    turn = await chat.send_message(
        context.database,
        context.chat_model,
        slots=context.chat_slots,
        user_id=user["id"],
        message=body.message,
        conversation_id=body.conversation_id,
        system_prompt=context.settings.system_prompt,
        memory=context.settings.chat_memory_messages,
        limits=context.limits,
    )
    return ChatReply.model_validate(turn, from_attributes=True)


@router.post(
    "/chat/stream", response_class=EventSourceResponse, responses=responses(404, 409, 429, *BODY_ERRORS)
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


@router.post("/chat/stop", status_code=204, responses=responses(404, *BODY_ERRORS))
async def stop_chat(body: StopRequest, user: CurrentUser, context: ContextDep) -> Response:
    """Stop every answer being written in this thread; each is stored as far as it got."""
    await chat_stream.stop_thread(context.database, context.generations, user["id"], body.conversation_id)
    return Response(status_code=204)


def event_data(event: chat_stream.StreamEvent) -> dict[str, Any]:
    """An event's JSON fields; an error becomes the status and sentence `/ai/chat` would answer."""
    if event.error is None:
        return event.data
    status, detail = status_and_detail(event.error)
    return {"status": status, "detail": detail}
