"""Talking to the model."""

from fastapi import APIRouter

from ...model_schemas import ModelList
from ...schemas import ChatReply, ChatRequest
from ...services import chat
from ...services.chat_options import chat_options, default_model, system_prompt_for
from ..deps import ContextDep, CurrentUser
from ..errors import BODY_ERRORS, responses

router = APIRouter(prefix="/ai", tags=["chat"], responses=responses(401, 503))


@router.post("/chat", responses=responses(404, 409, 429, 502, 504, *BODY_ERRORS))
async def send_chat_message(body: ChatRequest, user: CurrentUser, context: ContextDep) -> ChatReply:
    """Send a message and get the model's answer; both are stored only if it answered.

    `model`, `temperature`, `top_p` and `max_tokens` left out take the caller's preferences,
    else the upstream's defaults (the model: OPENROUTER_MODEL); a model outside ALLOWED_MODELS is a 422.
    """
    options = chat_options(
        context.settings,
        user,
        model=body.model,
        temperature=body.temperature,
        top_p=body.top_p,
        max_tokens=body.max_tokens,
    )
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
    )
    return ChatReply.model_validate(turn, from_attributes=True)


@router.get("/models")
async def list_models(user: CurrentUser, context: ContextDep) -> ModelList:
    """The models the caller may choose, and `default`: the one a turn that names none uses.

    The upstream's list, cached MODELS_CACHE_SECONDS and filtered by ALLOWED_MODELS; built from
    the allow-list (or the default model) when the upstream has none: never an upstream error.
    """
    default = default_model(context.settings, user)
    return ModelList.model_validate({"items": await context.models.models(default), "default": default})
