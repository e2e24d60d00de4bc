"""A chat turn: build the model's context from one thread, ask it, store both messages at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import anyio

from ..completion import ChatOptions, Completion
from ..errors import AssistantIAError, NotFoundError
from ..llm import ChatModel
from ..records import ConversationRecord, MessageRecord, conversation_record, message_record, new_id
from ..storage import Database, UnitOfWork
from ..storage.file_store import StoredFile
from .chat_slots import ChatSlots
from .classroom_limits import check_may_chat, take_chat_turn
from .conversations import DEFAULT_TITLE, ThreadLimits
from .images import NO_IMAGES, IncomingImages, files_of, load_images, model_content, read_images, remember
from .model_calls import answers_given, ask_models
from .titles import TitleWriter
from .turn_memory import memory_for, rows_for_window, shares_turns

__all__ = ["ChatTurn", "PreparedTurn", "begin_turn", "finish_turn", "send_message", "title_from_message"]

_TITLE_CHARS = 60
_NOT_FOUND = "Conversation not found."


@dataclass(frozen=True)
class ChatTurn:
    """The outcome of one stored turn."""

    completion: Completion
    conversation_id: str
    user_message_id: str
    assistant_message_id: str
    # -- several models (issue 10): each model asked, its announced id and its answer or error
    asked: tuple[str, ...] = ()
    answer_ids: tuple[str, ...] = ()
    answers: tuple[Completion | AssistantIAError, ...] = field(default=())

    @property
    def answer(self) -> str:
        """The answer's text, as stored."""
        return self.completion.content

    @property
    def model(self) -> str:
        """The model that answered."""
        return self.completion.model

    @property
    def finish_reason(self) -> str | None:
        """Why the model stopped, as the upstream said."""
        return self.completion.finish_reason

    @property
    def usage(self) -> dict[str, int | float | None] | None:
        """The answer's token counts, when the upstream reported them."""
        return self.completion.usage.as_dict() if self.completion.usage else None


def title_from_message(message: str) -> str:
    """A thread title from its first message: its first line, shortened on a word boundary."""
    first_line = " ".join(message.strip().splitlines()[0].split())
    if len(first_line) <= _TITLE_CHARS:
        return first_line
    # One character more than fits, so a word ending exactly at the limit is kept whole.
    head = first_line[: _TITLE_CHARS + 1].rsplit(" ", 1)[0].rstrip(" ,.;:")
    if not head or len(head) > _TITLE_CHARS:  # a single long word: cut it
        head = first_line[:_TITLE_CHARS]
    return head + "…"


@dataclass(frozen=True)
class PreparedTurn:
    """A turn checked and ready for the model: ids fixed, context built, nothing stored yet.

    `models` are those asked, each answer announced under its id in `assistant_message_ids`
    (same order); `context` is the first model's, `context_for` any model's (issue 10's memory).
    """

    user_id: str
    conversation_id: str
    new_conversation: ConversationRecord | None
    question: MessageRecord
    assistant_message_id: str
    context: list[dict[str, Any]]
    # -- several models (issue 10)
    models: tuple[str, ...] = ()
    assistant_message_ids: tuple[str, ...] = ()
    contexts: tuple[list[dict[str, Any]], ...] = ()
    # -- images (issue 10): the data images to store as files with the question
    images: IncomingImages = field(default=NO_IMAGES)
    # -- automatic titles (issue 10): who names the thread after its first turn (None: nobody)
    titles: TitleWriter | None = None

    def context_for(self, model: str) -> list[dict[str, Any]]:
        """What `model` is shown: the system prompt, its memory of the thread, the new message."""
        return self.contexts[self.models.index(model)] if model in self.models else self.context


async def begin_turn(
    database: Database,
    *,
    user_id: str,
    message: str,
    conversation_id: str | None,
    system_prompt: str,
    memory: int,
    limits: ThreadLimits,
    rate_per_minute: int = 0,
    models: Sequence[str] = ("",),
    images: Sequence[str] | None = None,
    titles: TitleWriter | None = None,
) -> PreparedTurn:
    """Everything a chat route does before the model is asked; raises what it would answer instead.

    The model sees the system prompt, then at most `memory` messages of this thread only, the
    new one last (one answer per earlier turn: see `turn_memory`). A full thread or account, or a
    thread that is not the caller's, is refused here. The chat rate counts the turn once,
    however many `models` answer it. Each message goes with its images.
    """
    incoming = read_images(images)  # a refused image costs no database work
    new_conversation: ConversationRecord | None = None
    if conversation_id is None:
        new_conversation = conversation_record(user_id, title_from_message(message))
        conversation_id = new_conversation["id"]
    earlier, loaded = await anyio.to_thread.run_sync(
        _prepare_turn,
        database,
        limits,
        user_id,
        None if new_conversation else conversation_id,
        memory - 1,
        rate_per_minute,
        1 + len(models),
    )

    def content_of(past: MessageRecord) -> Any:
        return model_content(past["content"], files_of(past, loaded))

    contexts = tuple(
        [
            {"role": "system", "content": system_prompt},
            *memory_for(earlier, model, memory - 1, content_of),
            {"role": "user", "content": model_content(message, incoming.urls)},
        ]
        for model in models
    )
    question = message_record(user_id, conversation_id, "user", message, images=incoming.refs)
    answer_ids = tuple(new_id("msg") for _ in models)
    return PreparedTurn(
        user_id,
        conversation_id,
        new_conversation,
        question,
        answer_ids[0],
        contexts[0],
        tuple(models),
        answer_ids,
        contexts,
        incoming,
        titles,
    )


async def finish_turn(
    database: Database, limits: ThreadLimits, turn: PreparedTurn, completion: Completion
) -> ChatTurn:
    """Store the question and the answer in one unit of work, the answer under its announced id."""
    return await finish_answers(database, limits, turn, [(turn.assistant_message_id, completion)])


async def finish_answers(
    database: Database, limits: ThreadLimits, turn: PreparedTurn, answers: list[tuple[str, Completion]]
) -> ChatTurn:
    """Store the question and every answer given (id, completion) in one unit of work, in that order."""
    replies = [
        message_record(
            turn.user_id,
            turn.conversation_id,
            "assistant",
            completion.content,
            completion=completion,
            message_id=answer_id,
            reply_to=turn.question["id"],
        )
        for answer_id, completion in answers
    ]
    stored = await anyio.to_thread.run_sync(
        _store_turn,
        database,
        limits,
        turn.user_id,
        turn.conversation_id,
        [turn.question, *replies],
        turn.new_conversation,
        [completion for _, completion in answers],
        turn.images.files(turn.user_id, turn.conversation_id, turn.question["id"]),
    )
    remember(turn.user_id, turn.images)  # stored: the next turns send them without reading them back
    first_turn = stored["message_count"] == 1 + len(replies)
    if turn.titles is not None and first_turn and _title_unchosen(stored["title"], turn):
        # Started beside the request: the answer goes back (or `done` is sent) without waiting.
        turn.titles.after_first_turn(
            turn.user_id, turn.conversation_id, turn.question["content"], stored["title"]
        )
    first_id, first = answers[0]
    return ChatTurn(first, turn.conversation_id, turn.question["id"], first_id)


async def send_message(
    database: Database,
    model: ChatModel,
    *,
    slots: ChatSlots,
    user_id: str,
    message: str,
    conversation_id: str | None,
    system_prompt: str,
    memory: int,
    limits: ThreadLimits,
    options: ChatOptions | Sequence[ChatOptions] | None = None,
    rate_per_minute: int = 0,
    images: Sequence[str] | None = None,
    titles: TitleWriter | None = None,
) -> ChatTurn:
    """Answer `message` within one thread; nothing is stored unless a model answered.

    With several `options` (one per model, issue 10) the models are asked concurrently; each
    that answers is stored with the question, and if none does the first failure is raised.
    The call holds one of the account's `slots` while the models run.
    """
    asked = _as_list(options)
    turn = await begin_turn(
        database,
        user_id=user_id,
        message=message,
        conversation_id=conversation_id,
        system_prompt=system_prompt,
        memory=memory,
        limits=limits,
        rate_per_minute=rate_per_minute,
        models=[one.model or model.model for one in asked],
        images=images,
        titles=titles,
    )
    async with slots.reserve(user_id):
        outcomes = await ask_models(model, turn, asked)
    given = answers_given(turn.assistant_message_ids, outcomes)
    stored = await finish_answers(database, limits, turn, given)
    return replace(stored, answers=tuple(outcomes), answer_ids=turn.assistant_message_ids, asked=turn.models)


def _title_unchosen(title: str, turn: PreparedTurn) -> bool:
    # A title the user did not choose: the one derived from this first message, or the default
    # of a thread created without one. A rename to anything else is the user's choice.
    return title in (title_from_message(turn.question["content"]), DEFAULT_TITLE)


def _as_list(options: ChatOptions | Sequence[ChatOptions] | None) -> list[ChatOptions]:
    if options is None:
        return [ChatOptions()]
    return [options] if isinstance(options, ChatOptions) else list(options)


def _prepare_turn(
    database: Database,
    limits: ThreadLimits,
    user_id: str,
    conversation_id: str | None,
    memory: int,
    rate_per_minute: int = 0,
    new_messages: int = 2,
) -> tuple[list[MessageRecord], dict[str, str]]:
    # The memory the model gets, once the account may chat (active, credits left) and the
    # thread (or a new one) is known to have room; the chat rate counts only turns that pass.
    earlier: list[MessageRecord] = []
    loaded: dict[str, str] = {}
    # Counting the turn against the rate writes: in this same unit, so it costs no second one.
    with database.unit_of_work(user_id, write=rate_per_minute > 0) as unit:
        check_may_chat(unit.accounts.get(user_id))
        if conversation_id is None:
            limits.check_new_conversation(unit, user_id)
        else:
            found = unit.threads.recent(user_id, conversation_id, memory)
            if found is not None and found.total > len(found.items) and shares_turns(found.items):
                # Several answers to one question: one counts, so the window reaches further back.
                found = unit.threads.recent(user_id, conversation_id, rows_for_window(memory))
            if found is None:
                raise NotFoundError(_NOT_FOUND)
            limits.check_new_messages(found.total, new_messages)
            earlier = found.items
            loaded = load_images(unit.stored_files, user_id, earlier)
        take_chat_turn(unit, user_id, rate_per_minute)
    return earlier, loaded


def _store_turn(
    database: Database,
    limits: ThreadLimits,
    user_id: str,
    conversation_id: str,
    messages: list[MessageRecord],
    new_conversation: ConversationRecord | None,
    completions: Sequence[Completion] = (),
    files: Sequence[StoredFile] = (),
) -> ConversationRecord:
    # One unit of work: a new thread appears with its first turn or not at all, and the usage
    # ledger counts the answer in the same commit. The caps are checked again: parallel turns
    # may have filled the room seen before the model was asked.
    with database.unit_of_work(user_id) as unit:
        if new_conversation is not None:
            limits.check_new_conversation(unit, user_id)
            unit.threads.add(new_conversation)  # NotFoundError if the account went meanwhile
        else:
            limits.check_new_messages(unit.threads.message_count(user_id, conversation_id), len(messages))
        # None: the thread (or the account) was deleted while the model was thinking.
        stored = unit.threads.append(user_id, conversation_id, messages)
        if stored is None:
            raise NotFoundError(_NOT_FOUND)
        for file in files:  # the question's images, committed with it or not at all
            unit.stored_files.add(file)
        # Counted on the UTC day the answers are stamped with.
        record_spending(unit, user_id, conversation_id, stored["updated_at"][:10], completions)
    return stored


def record_spending(
    unit: UnitOfWork, user_id: str, conversation_id: str, day: str, completions: Sequence[Completion]
) -> None:
    """Count every answer's tokens in the usage ledger and the credits, in the unit storing them."""
    for completion in completions:
        unit.usage.record(user_id, conversation_id, day, completion.model, completion.usage)
    tokens = sum(completion.usage.total_tokens for completion in completions if completion.usage)
    if tokens > 0:
        unit.accounts.spend_credits(user_id, tokens)
