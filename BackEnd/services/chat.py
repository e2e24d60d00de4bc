"""A chat turn: build the model's context from one thread, ask it, store both messages at once."""

from __future__ import annotations

from dataclasses import dataclass

import anyio

from ..completion import Completion
from ..errors import NotFoundError
from ..llm import ChatModel
from ..records import ConversationRecord, MessageRecord, conversation_record, message_record
from ..storage import Database
from .chat_slots import ChatSlots
from .classroom_limits import check_may_chat, take_chat_turn
from .conversations import ThreadLimits

__all__ = ["ChatTurn", "send_message", "title_from_message"]

_TITLE_CHARS = 60
_NOT_FOUND = "Conversation not found."


@dataclass(frozen=True)
class ChatTurn:
    """The outcome of one stored turn."""

    completion: Completion
    conversation_id: str
    user_message_id: str
    assistant_message_id: str

    @property
    def answer(self) -> str:
        """The answer's text, as stored."""
        return self.completion.content


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
    rate_per_minute: int = 0,
) -> ChatTurn:
    """Answer `message` within one thread; nothing is stored unless the model answered.

    The model sees the system prompt, then at most `memory` messages of this thread only,
    the new one last. A full thread or account is refused before the model is asked; the call
    holds one of the account's `slots` while it runs.
    """
    new_conversation: ConversationRecord | None = None
    if conversation_id is None:
        new_conversation = conversation_record(user_id, title_from_message(message))
        conversation_id = new_conversation["id"]
    earlier = await anyio.to_thread.run_sync(
        _prepare_turn,
        database,
        limits,
        user_id,
        None if new_conversation else conversation_id,
        memory - 1,
        rate_per_minute,
    )

    question = message_record(user_id, conversation_id, "user", message)
    context = [{"role": "system", "content": system_prompt}]
    context += [{"role": past["role"], "content": past["content"]} for past in earlier]
    context.append({"role": "user", "content": message})
    async with slots.reserve(user_id):
        completion = await model.complete(context)
    reply = message_record(user_id, conversation_id, "assistant", completion.content)
    tokens = completion.usage.total_tokens if completion.usage else 0
    await anyio.to_thread.run_sync(
        _store_turn, database, limits, user_id, conversation_id, [question, reply], new_conversation, tokens
    )
    return ChatTurn(completion, conversation_id, question["id"], reply["id"])


def _prepare_turn(
    database: Database,
    limits: ThreadLimits,
    user_id: str,
    conversation_id: str | None,
    memory: int,
    rate_per_minute: int = 0,
) -> list[MessageRecord]:
    # The memory the model gets, once the account may chat (active, credits left) and the
    # thread (or a new one) is known to have room; the chat rate counts only turns that pass.
    earlier: list[MessageRecord] = []
    # Counting the turn against the rate writes: in this same unit, so it costs no second one.
    with database.unit_of_work(user_id, write=rate_per_minute > 0) as unit:
        check_may_chat(unit.accounts.get(user_id))
        if conversation_id is None:
            limits.check_new_conversation(unit, user_id)
        else:
            found = unit.threads.recent(user_id, conversation_id, memory)
            if found is None:
                raise NotFoundError(_NOT_FOUND)
            limits.check_new_messages(found.total, 2)
            earlier = found.items
        take_chat_turn(unit, user_id, rate_per_minute)
    return earlier


def _store_turn(
    database: Database,
    limits: ThreadLimits,
    user_id: str,
    conversation_id: str,
    messages: list[MessageRecord],
    new_conversation: ConversationRecord | None,
    tokens: int = 0,
) -> None:
    # One unit of work: a new thread appears with its first turn or not at all. The caps are
    # checked again: parallel turns may have filled the room seen before the model was asked.
    with database.unit_of_work(user_id) as unit:
        if new_conversation is not None:
            limits.check_new_conversation(unit, user_id)
            unit.threads.add(new_conversation)  # NotFoundError if the account went meanwhile
        else:
            limits.check_new_messages(unit.threads.message_count(user_id, conversation_id), len(messages))
        # None: the thread (or the account) was deleted while the model was thinking.
        if unit.threads.append(user_id, conversation_id, messages) is None:
            raise NotFoundError(_NOT_FOUND)
        if tokens > 0:  # with the turn, or not at all
            unit.accounts.spend_credits(user_id, tokens)
