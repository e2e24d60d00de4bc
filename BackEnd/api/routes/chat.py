"""Talking to the model: one answer at once, and stopping the answers being streamed."""

from fastapi import APIRouter, Response

from ...model_schemas import ModelList
from ...schemas import ChatReply, ChatRequest, StopRequest
from ...services import chat, chat_stream
from ...services.chat_options import default_model, options_for_request, system_prompt_for
from ..deps import ContextDep, CurrentUser
from ..errors import BODY_ERRORS, responses

router = APIRouter(prefix="/ai", tags=["chat"], responses=responses(401, 503))


@router.post("/chat", responses=responses(402, 404, 409, 429, 502, 504, *BODY_ERRORS))
async def send_chat_message(body: ChatRequest, user: CurrentUser, context: ContextDep) -> ChatReply:
    """Send a message and get the model's answer; both are stored only if it answered.

    `model`, `temperature`, `top_p` and `max_tokens` left out take the caller's preferences,
    else the upstream's defaults (the model: OPENROUTER_MODEL); a model outside ALLOWED_MODELS is a 422.
    """
    options = options_for_request(context.settings, user, body)
    turn = await chat.send_message(
        context.database,
        context.chat_model,
        slots=context.chat_slots,
        user_id=user["id"],
        message=body.message,
        conversation_id=body.conversation_id,
        system_prompt=system_prompt_for(context.settings, user),
        memory=context.settings.chat_memory_messages,
        limits=context.limits,
        options=options,
        rate_per_minute=context.settings.chat_rate_per_minute,
        images=body.images,
        titles=context.titles,
    )
    return ChatReply.model_validate(turn, from_attributes=True)


@router.post("/chat/stop", status_code=204, responses=responses(404, *BODY_ERRORS))
async def stop_chat(body: StopRequest, user: CurrentUser, context: ContextDep) -> Response:
    """Stop every answer being written in this thread; each is stored as far as it got."""
    await chat_stream.stop_thread(context.database, context.generations, user["id"], body.conversation_id)
    return Response(status_code=204)


@router.get("/models")
async def list_models(user: CurrentUser, context: ContextDep) -> ModelList:
    """The models the caller may choose, and `default`: the one a turn that names none uses.

    The upstream's list, cached MODELS_CACHE_SECONDS and filtered by ALLOWED_MODELS; built from
    the allow-list (or the default model) when the upstream has none: never an upstream error.
    """
    default = default_model(context.settings, user)
    return ModelList.model_validate({"items": await context.models.models(default), "default": default})
