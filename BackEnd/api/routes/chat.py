"""Talking to the model: one answer at once, and stopping the answers being streamed."""

from typing import Any

from fastapi import APIRouter, Response

from ...chat_schemas import ChatReply, ChatRequest, StopRequest
from ...completion import Completion
from ...model_schemas import ModelList
from ...services import chat, chat_stream
from ...services.chat import ChatTurn
from ...services.chat_options import default_model
from ..deps import ContextDep, CurrentUser
from ..errors import BODY_ERRORS, responses, status_and_detail
from ..turns import turn_arguments

router = APIRouter(prefix="/ai", tags=["chat"], responses=responses(401, 503))


@router.post("/chat", responses=responses(402, 404, 409, 429, 502, 504, *BODY_ERRORS))
async def send_chat_message(body: ChatRequest, user: CurrentUser, context: ContextDep) -> ChatReply:
    """Send a message and get the model's answer; both are stored only if it answered.

    `model`, `temperature`, `top_p` and `max_tokens` left out take the caller's preferences,
    else the upstream's defaults (the model: OPENROUTER_MODEL); a model outside ALLOWED_MODELS is a 422.
    `models` (2 to 4) asks several at once: see `answers`; the turn fails only if all of them do.
    """
    turn = await chat.send_message(
        context.database,
        context.chat_model,
        message=body.message,
        conversation_id=body.conversation_id,
        **turn_arguments(context, user, body),
        images=body.images,
        titles=context.titles,
    )
    return chat_reply(turn)


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


def chat_reply(turn: ChatTurn) -> ChatReply:
    """A stored turn as `/ai/chat` answers it: the first answer's fields, then every model's."""
    return ChatReply.model_validate({**_first_answer(turn), "answers": _answers(turn)})


def _first_answer(turn: ChatTurn) -> dict[str, Any]:
    return {
        "answer": turn.answer,
        "conversation_id": turn.conversation_id,
        "user_message_id": turn.user_message_id,
        "assistant_message_id": turn.assistant_message_id,
        "model": turn.model,
        "finish_reason": turn.finish_reason,
        "usage": turn.usage,
    }


def _answers(turn: ChatTurn) -> list[dict[str, Any]]:
    """Every model asked, in order: its stored answer, or the error it would have answered alone."""
    answers: list[dict[str, Any]] = []
    for asked, answer_id, outcome in zip(turn.asked, turn.answer_ids, turn.answers, strict=True):
        if isinstance(outcome, Completion):
            usage = outcome.usage.as_dict() if outcome.usage else None
            answers.append(
                {
                    "model": outcome.model,
                    "answer": outcome.content,
                    "assistant_message_id": answer_id,
                    "finish_reason": outcome.finish_reason,
                    "usage": usage,
                    "error": None,
                }
            )
        else:
            status, detail = status_and_detail(outcome)
            error = {"status": status, "detail": detail}
            answers.append(
                dict.fromkeys(("answer", "assistant_message_id", "finish_reason", "usage"))
                | {"model": asked, "error": error}
            )
    return answers
