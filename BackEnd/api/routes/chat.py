"""Talking to the model."""

from fastapi import APIRouter

from ...schemas import ChatReply, ChatRequest
from ...services import chat
from ..deps import ContextDep, CurrentUser
from ..errors import BODY_ERRORS, responses

router = APIRouter(prefix="/ai", tags=["chat"], responses=responses(401, 503))


@router.post("/chat", responses=responses(402, 404, 409, 429, 502, 504, *BODY_ERRORS))
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
        rate_per_minute=context.settings.chat_rate_per_minute,
    )
    return ChatReply.model_validate(turn, from_attributes=True)
