"""A streamed chat turn: checked like `/ai/chat`, written by a generation, stored whole or not at all."""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ..completion import ChatOptions, Completion
from ..errors import AssistantIAError, NotFoundError, UpstreamTimeout
from ..llm import ChatModel
from ..storage import Database
from .chat import PreparedTurn, begin_turn, finish_answers, finish_turn
from .chat_several_stream import generate_several, start_events
from .chat_slots import ChatSlots
from .conversations import ThreadLimits
from .generations import Generation, Generations
from .stream_events import STOPPED, StreamEvent
from .stream_events import emit as _emit
from .titles import TitleWriter

__all__ = ["STOPPED", "StreamEvent", "StreamTurn", "launch", "start_stream", "stop_thread"]

logger = logging.getLogger(__name__)

# A proxy may cut a connection silent for long (nginx: 60 s); a model may think for longer.
KEEPALIVE_SECONDS = 15.0


@dataclass(frozen=True)
class StreamTurn:
    """A started turn: its `start` event, then the rest as the generation writes it."""

    start: StreamEvent
    events: MemoryObjectReceiveStream[StreamEvent]


async def start_stream(
    database: Database,
    model: ChatModel,
    generations: Generations,
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
) -> StreamTurn:
    """Check the turn as `/ai/chat` does (raising what it would answer), then start its generation.

    The generation runs in the app's task group: whoever reads `events` may go away without
    cutting it short. The account's chat slot is held until the generation ends. Several
    `options` (one per model, issue 10) stream side by side: see `chat_several_stream`.
    """
    several = list(options) if options is not None and not isinstance(options, ChatOptions) else []
    if len(several) == 1:
        options, several = several[0], []
    single = None if several or options is None else options
    assert single is None or isinstance(single, ChatOptions)
    turn = await begin_turn(
        database,
        user_id=user_id,
        message=message,
        conversation_id=conversation_id,
        system_prompt=system_prompt,
        memory=memory,
        limits=limits,
        rate_per_minute=rate_per_minute,
        images=images,
        titles=titles,
        models=[one.model or model.model for one in several] or [_asked(model, single)],
    )
    model.check_configured()
    if several:
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
                several,
                lambda given: finish_answers(database, limits, turn, given),
            ),
        )
    start = StreamEvent(
        "start",
        {
            "conversation_id": turn.conversation_id,
            "user_message_id": turn.question["id"],
            "assistant_message_id": turn.assistant_message_id,
            "model": _asked(model, single),
        },
    )
    return await launch(
        generations,
        slots,
        turn,
        [start],
        lambda generation, send: _generate(database, model, limits, turn, generation, send, single),
    )


async def launch(
    generations: Generations,
    slots: ChatSlots,
    turn: PreparedTurn,
    starts: list[StreamEvent],
    generate: Callable[[Generation, MemoryObjectSendStream[StreamEvent]], Awaitable[None]],
) -> StreamTurn:
    """Run `generate` as the turn's generation, holding one of the account's chat slots until it ends.

    The first of `starts` is the stream's own event; the others lead its events (one per model).
    """
    slot = AsyncExitStack()
    # Entered here so a full account is refused before the stream starts; left by the generation.
    await slot.enter_async_context(slots.reserve(turn.user_id))
    # Unbounded: an answer is bounded, and a slow reader must never slow the generation down.
    send, receive = anyio.create_memory_object_stream[StreamEvent](math.inf)
    generation = Generation(turn.user_id, turn.conversation_id)

    async def work() -> None:
        async with slot, send, anyio.create_task_group() as pings:
            pings.start_soon(_keep_alive, send)
            await generate(generation, send)
            pings.cancel_scope.cancel()

    first, *others = starts
    for event in others:
        _emit(send, event)
    try:
        generations.start(generation, work)
    except BaseException:
        await slot.aclose()
        raise
    return StreamTurn(first, receive)


async def stop_thread(
    database: Database, generations: Generations, user_id: str, conversation_id: str
) -> None:
    """Stop the user's generations in this thread; NotFoundError if it is neither theirs nor running.

    A new thread is stored with its first turn, so while that is written only the process
    writing it knows the thread: the stop is sent to every process all the same.
    """
    known = generations.running_here(user_id, conversation_id) or await anyio.to_thread.run_sync(
        _owns_thread, database, user_id, conversation_id
    )
    await generations.stop(user_id, conversation_id)
    if not known:
        raise NotFoundError("Conversation not found.")


def _asked(model: ChatModel, options: ChatOptions | None) -> str:
    """The model a turn asks for: its options' choice, else the server's default."""
    return options.model if options is not None and options.model else model.model


def _owns_thread(database: Database, user_id: str, conversation_id: str) -> bool:
    with database.unit_of_work(user_id, write=False) as unit:
        return unit.threads.get(user_id, conversation_id) is not None


async def _generate(
    database: Database,
    model: ChatModel,
    limits: ThreadLimits,
    turn: PreparedTurn,
    generation: Generation,
    send: MemoryObjectSendStream[StreamEvent],
    options: ChatOptions | None,
) -> None:
    parts: list[str] = []
    completion: Completion | None = None
    try:
        stream = model.stream(turn.context, options)
        # One scope bounds the whole call and is what a stop cancels.
        generation.scope.deadline = anyio.current_time() + model.timeout_seconds
        try:
            with generation.scope:
                async for piece in stream:
                    if isinstance(piece, Completion):
                        completion = piece
                    else:
                        parts.append(piece)
                        _emit(send, StreamEvent("delta", {"content": piece}))
        finally:
            with anyio.CancelScope(shield=True):  # close the upstream connection even when stopped
                await stream.aclose()
        if completion is None:
            if not generation.stopped:
                seconds = f"{model.timeout_seconds:g}"
                logger.warning("Upstream stream did not end within %s s", seconds)
                raise UpstreamTimeout(f"The AI service did not answer within {seconds} seconds.")
            completion = Completion("".join(parts), _asked(model, options), STOPPED)
        stored = await finish_turn(database, limits, turn, completion)
    except AssistantIAError as exc:
        # Upstream failed, or storing did (thread deleted meanwhile, caps, storage down): nothing stored.
        _emit(send, StreamEvent("error", error=exc))
        return
    done = stored.completion
    usage = done.usage.as_dict() if done.usage is not None else None
    _emit(
        send,
        StreamEvent(
            "done",
            {
                "assistant_message_id": stored.assistant_message_id,
                "model": done.model,
                "finish_reason": done.finish_reason,
                "usage": usage,
            },
        ),
    )


async def _keep_alive(send: MemoryObjectSendStream[StreamEvent]) -> None:
    # A ping every KEEPALIVE_SECONDS whatever the traffic: one timer per stream, instead of
    # one per event to measure each silence (a scope per event cost a third of relaying one).
    while True:
        await anyio.sleep(KEEPALIVE_SECONDS)
        _emit(send, StreamEvent("ping"))
