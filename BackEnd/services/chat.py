"""A chat turn: build the model's context from one thread, ask it, store both messages at once."""

from __future__ import annotations

from dataclasses import dataclass

import anyio

from ..errors import NotFoundError
from ..llm import ChatModel
from ..records import ConversationRecord, MessageRecord, conversation_record, message_record
from ..storage import Database
from .chat_slots import ChatSlots

__all__ = ["ChatTurn", "send_message", "title_from_message"]

_TITLE_CHARS = 60


@dataclass(frozen=True)
class ChatTurn:
    """The outcome of one stored turn."""

    answer: str
    conversation_id: str
    user_message_id: str
    assistant_message_id: str


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
) -> ChatTurn:
    """Answer `message` within one thread; nothing is stored unless the model answered.

    The model sees the system prompt, then at most `memory` messages of this thread only,
    the new one last. The call holds one of the account's `slots` while it runs.
    """
    new_conversation: ConversationRecord | None = None
    if conversation_id is None:
        new_conversation = conversation_record(user_id, title_from_message(message))
        conversation_id = new_conversation["id"]
        earlier: list[MessageRecord] = []
    else:
        found = await anyio.to_thread.run_sync(database.recent_messages, user_id, conversation_id, memory - 1)
        if found is None:
            raise NotFoundError("Conversation not found.")
        earlier = found

    question = message_record(user_id, conversation_id, "user", message)
    context = [{"role": "system", "content": system_prompt}]
    context += [{"role": past["role"], "content": past["content"]} for past in earlier]
    context.append({"role": "user", "content": message})
    async with slots.reserve(user_id):
        answer = await model.complete(context)
    reply = message_record(user_id, conversation_id, "assistant", answer)
    stored = await anyio.to_thread.run_sync(
        lambda: database.add_turn(
            user_id, conversation_id, [question, reply], new_conversation=new_conversation
        )
    )
    if stored is None:  # the thread (or the account) was deleted while the model was thinking
        raise NotFoundError("Conversation not found.")
    return ChatTurn(answer, conversation_id, question["id"], reply["id"])
