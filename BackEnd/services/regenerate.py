"""Regenerate, and edit then resend (issue 10): ask again for a thread's last user message."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import anyio

from ..completion import ChatOptions, Completion
from ..errors import NotFoundError, NothingToRegenerate
from ..llm import ChatModel
from ..records import MessageRecord, message_record, new_id, utc_now
from ..storage import Database
from .chat import ChatTurn, PreparedTurn, record_spending
from .chat_slots import ChatSlots
from .classroom_limits import check_may_chat, take_chat_turn
from .conversations import ThreadLimits
from .images import files_of, load_images, model_content
from .model_calls import answers_given, ask_models
from .turn_memory import MAX_ANSWERS_PER_TURN, memory_for, rows_for_window

__all__ = ["NOTHING_TO_REGENERATE", "Regeneration", "begin_regenerate", "finish_regenerate", "regenerate"]

NOTHING_TO_REGENERATE = (
    "The conversation's last message is not an answer to a user message: there is nothing to regenerate."
)
_NOT_FOUND = "Conversation not found."


@dataclass(frozen=True)
class Regeneration:
    """A regenerate checked and ready for the model: `turn` as a chat's, and the answers it replaces."""

    turn: PreparedTurn
    replaced: tuple[str, ...]


async def begin_regenerate(
    database: Database,
    *,
    user_id: str,
    conversation_id: str,
    message: str | None,
    system_prompt: str,
    memory: int,
    limits: ThreadLimits,
    models: Sequence[str],
    rate_per_minute: int = 0,
) -> Regeneration:
    """What a regenerate does before the model is asked: the checks of a chat turn, then the last turn.

    NothingToRegenerate (409) when the thread does not end with answers to a user message.
    """
    question, replaced, earlier, loaded = await anyio.to_thread.run_sync(
        _last_turn, database, limits, user_id, conversation_id, memory - 1, len(models), rate_per_minute
    )
    if message is not None and message != question["content"]:
        question = {**question, "content": message, "edited_at": utc_now()}

    def content_of(past: MessageRecord) -> Any:  # the text, with the message's images (issue 10)
        return model_content(past["content"], files_of(past, loaded))

    contexts = tuple(
        [
            {"role": "system", "content": system_prompt},
            *memory_for(earlier, model, memory - 1, content_of),
            {"role": "user", "content": content_of(question)},
        ]
        for model in models
    )
    # One answer takes the place (and id) of the first it replaces; several are new messages.
    answer_ids = (replaced[0],) if len(models) == 1 else tuple(new_id("msg") for _ in models)
    turn = PreparedTurn(
        user_id,
        conversation_id,
        None,
        question,
        answer_ids[0],
        contexts[0],
        tuple(models),
        answer_ids,
        contexts,
    )
    return Regeneration(turn, tuple(replaced))


async def finish_regenerate(
    database: Database,
    limits: ThreadLimits,
    regeneration: Regeneration,
    answers: list[tuple[str, Completion]],
) -> ChatTurn:
    """Replace the last turn with the question and these answers, in one unit of work."""
    turn = regeneration.turn
    edited = utc_now() if len(turn.models) == 1 else None  # a kept id: the same message, changed
    replies: list[MessageRecord] = []
    for answer_id, completion in answers:
        reply = message_record(
            turn.user_id,
            turn.conversation_id,
            "assistant",
            completion.content,
            completion=completion,
            message_id=answer_id,
            reply_to=turn.question["id"],
        )
        reply["edited_at"] = edited
        replies.append(reply)
    await anyio.to_thread.run_sync(
        _store, database, turn, regeneration.replaced, replies, [completion for _, completion in answers]
    )
    first_id, first = answers[0]
    return ChatTurn(first, turn.conversation_id, turn.question["id"], first_id)


async def regenerate(
    database: Database,
    model: ChatModel,
    *,
    slots: ChatSlots,
    user_id: str,
    conversation_id: str,
    message: str | None,
    system_prompt: str,
    memory: int,
    limits: ThreadLimits,
    options: Sequence[ChatOptions],
    rate_per_minute: int = 0,
) -> ChatTurn:
    """Ask again (as `send_message` asks) and replace the last turn once a model answered.

    If every model fails, the thread stays exactly as it was, the question's old text included.
    """
    regeneration = await begin_regenerate(
        database,
        user_id=user_id,
        conversation_id=conversation_id,
        message=message,
        system_prompt=system_prompt,
        memory=memory,
        limits=limits,
        models=[one.model or model.model for one in options],
        rate_per_minute=rate_per_minute,
    )
    turn = regeneration.turn
    async with slots.reserve(user_id):
        outcomes = await ask_models(model, turn, options)
    given = answers_given(turn.assistant_message_ids, outcomes)
    stored = await finish_regenerate(database, limits, regeneration, given)
    return replace(stored, answers=tuple(outcomes), answer_ids=turn.assistant_message_ids, asked=turn.models)


def _last_turn(
    database: Database,
    limits: ThreadLimits,
    user_id: str,
    conversation_id: str,
    memory: int,
    answering: int,
    rate_per_minute: int,
) -> tuple[MessageRecord, list[str], list[MessageRecord], dict[str, str]]:
    # The last question, the ids of its answers, the memory before it and their stored images,
    # read under the checks a chat turn passes (the account may chat, the rate) so a regenerate
    # costs what a turn does.
    with database.unit_of_work(user_id, write=rate_per_minute > 0) as unit:
        check_may_chat(unit.accounts.get(user_id))
        found = unit.threads.recent(
            user_id, conversation_id, rows_for_window(memory) + 1 + MAX_ANSWERS_PER_TURN
        )
        if found is None:
            raise NotFoundError(_NOT_FOUND)
        items = found.items
        asked = max((index for index, item in enumerate(items) if item["role"] == "user"), default=None)
        if asked is None or asked == len(items) - 1:
            raise NothingToRegenerate(NOTHING_TO_REGENERATE)
        replaced = [item["id"] for item in items[asked + 1 :]]
        limits.check_new_messages(found.total, answering - len(replaced))
        loaded = load_images(unit.stored_files, user_id, items[: asked + 1])
        take_chat_turn(unit, user_id, rate_per_minute)
    return items[asked], replaced, items[:asked], loaded


def _store(
    database: Database,
    turn: PreparedTurn,
    replaced: tuple[str, ...],
    replies: list[MessageRecord],
    completions: list[Completion],
) -> None:
    # One unit: the replaced turn, the ledger and the credits commit together or not at all.
    with database.unit_of_work(turn.user_id) as unit:
        stored = unit.threads.replace_last_turn(
            turn.user_id, turn.conversation_id, turn.question, replaced, replies
        )
        if stored is None:  # the thread (or the account) was deleted while the model was thinking
            raise NotFoundError(_NOT_FOUND)
        record_spending(unit, turn.user_id, turn.conversation_id, stored["updated_at"][:10], completions)
