"""A streamed regenerate (issue 10): a several-model stream whose store replaces the last turn."""

from __future__ import annotations

from collections.abc import Sequence

from ..completion import ChatOptions
from ..llm import ChatModel
from ..storage import Database
from .chat_several_stream import generate_several, start_events
from .chat_slots import ChatSlots
from .chat_stream import StreamTurn, launch
from .conversations import ThreadLimits
from .generations import Generations
from .regenerate import begin_regenerate, finish_regenerate

__all__ = ["start_regenerate_stream"]


async def start_regenerate_stream(
    database: Database,
    model: ChatModel,
    generations: Generations,
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
) -> StreamTurn:
    """Check the regenerate (raising what `/ai/chat/regenerate` would answer), then start it.

    Its events are a several-model stream's, whatever the number of models: each names its
    `model`, and `end` closes it. An answer stopped before any text ends with an `error` and
    replaces nothing; if no model answered, the thread is left exactly as it was.
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
    model.check_configured()
    turn = regeneration.turn
    return await launch(
        generations,
        slots,
        turn,
        start_events(turn),
        lambda generation, send: generate_several(
            model,
            turn,
            generation,
            send,
            options,
            lambda given: finish_regenerate(database, limits, regeneration, given),
            keep_empty_stops=False,
        ),
    )
