"""Talking to the model: one answer at once, and stopping the answers being streamed."""

from fastapi import APIRouter, Response

from ...schemas import ChatReply, ChatRequest, StopRequest
from ...services import chat, chat_stream
from ..deps import ContextDep, CurrentUser
from ..errors import BODY_ERRORS, responses

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


@router.post("/chat/stop", status_code=204, responses=responses(404, *BODY_ERRORS))
async def stop_chat(body: StopRequest, user: CurrentUser, context: ContextDep) -> Response:
    """Stop every answer being written in this thread; each is stored as far as it got."""
    await chat_stream.stop_thread(context.database, context.generations, user["id"], body.conversation_id)
    return Response(status_code=204)
