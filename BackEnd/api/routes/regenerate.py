"""Regenerate, and edit then resend (issue 10): a thread's last user message asked again."""

from fastapi import APIRouter
from fastapi.sse import EventSourceResponse

from ...chat_schemas import ChatReply, RegenerateRequest
from ...services import regenerate, regenerate_stream
from ..deps import ContextDep, CurrentUser
from ..errors import BODY_ERRORS, json_responses, responses
from ..turns import turn_arguments
from .chat import chat_reply
from .chat_stream import EVENTS, DocumentedAsEventStream, event_stream

router = APIRouter(prefix="/ai/chat", tags=["chat"])


@router.post("/regenerate", responses=responses(401, 402, 404, 409, 429, 502, 503, 504, *BODY_ERRORS))
async def regenerate_answer(body: RegenerateRequest, user: CurrentUser, context: ContextDep) -> ChatReply:
    """Ask again for the thread's last user message; with `message`, its text is replaced first.

    The new answer(s) replace the old in one step once a model answered: one answer keeps the
    old one's id and `created_at` (its `edited_at` set), several get new ids. If every model
    fails, the thread is left exactly as it was. 409 when the thread does not end with an answer
    to a user message. Chosen as on `/ai/chat` (`model` or `models`, sampling, preferences).
    """
    turn = await regenerate.regenerate(
        context.database,
        context.chat_model,
        conversation_id=body.conversation_id,
        message=body.message,
        **turn_arguments(context, user, body),
    )
    return chat_reply(turn)


@router.post(
    "/regenerate/stream",
    response_class=DocumentedAsEventStream,
    responses=EVENTS | json_responses(401, 402, 404, 409, 429, 503, *BODY_ERRORS),
)
async def regenerate_answer_streamed(
    body: RegenerateRequest, user: CurrentUser, context: ContextDep
) -> EventSourceResponse:
    """`/ai/chat/regenerate` as a stream: the events of a several-model stream, `end` last.

    An answer stopped before any text ends with an `error` (409) and replaces nothing.
    """
    turn = await regenerate_stream.start_regenerate_stream(
        context.database,
        context.chat_model,
        context.generations,
        conversation_id=body.conversation_id,
        message=body.message,
        **turn_arguments(context, user, body),
    )
    return event_stream(turn)
