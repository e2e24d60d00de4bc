"""What every chat route hands a turn: the caller's prompt, memory, limits, model options and rate."""

from __future__ import annotations

from typing import TypedDict

from ..chat_schemas import ChatChoices
from ..completion import ChatOptions
from ..records import UserRecord
from ..services.chat_options import options_per_model, system_prompt_for
from ..services.chat_slots import ChatSlots
from ..services.conversations import ThreadLimits
from .deps import AppContext

__all__ = ["TurnArguments", "turn_arguments"]


class TurnArguments(TypedDict):
    """The keyword arguments that plain, streamed, socket and regenerate turns all take."""

    slots: ChatSlots
    user_id: str
    system_prompt: str
    memory: int
    limits: ThreadLimits
    options: list[ChatOptions]
    rate_per_minute: int


def turn_arguments(context: AppContext, user: UserRecord, choices: ChatChoices) -> TurnArguments:
    """The server's settings and the caller's preferences and choices, for one turn of theirs."""
    return {
        "slots": context.chat_slots,
        "user_id": user["id"],
        "system_prompt": system_prompt_for(context.settings, user),
        "memory": context.settings.chat_memory_messages,
        "limits": context.limits,
        "options": options_per_model(context.settings, user, choices),
        "rate_per_minute": context.settings.chat_rate_per_minute,
    }
