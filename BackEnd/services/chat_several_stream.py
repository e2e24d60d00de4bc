"""A streamed turn answered by several models at once (issue 10): per-model events, one store."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from ..completion import ChatOptions, Completion
from ..errors import AssistantIAError, NothingToRegenerate, UpstreamTimeout
from ..llm import ChatModel
from .chat import PreparedTurn
from .generations import Generation
from .stream_events import STOPPED, StreamEvent, emit

__all__ = ["STOPPED_EMPTY", "Store", "generate_several", "start_events"]

logger = logging.getLogger(__name__)

STOPPED_EMPTY = "Stopped before any text: the conversation was left as it was."


def start_events(turn: PreparedTurn) -> list[StreamEvent]:
    """One `start` per model, in the order asked, each naming the id its answer will have."""
    return [
        StreamEvent(
            "start",
            {
                "conversation_id": turn.conversation_id,
                "user_message_id": turn.question["id"],
                "assistant_message_id": answer_id,
                "model": asked,
            },
        )
        for asked, answer_id in zip(turn.models, turn.assistant_message_ids, strict=True)
    ]


Store = Callable[[list[tuple[str, Completion]]], Awaitable[object]]


async def generate_several(
    model: ChatModel,
    turn: PreparedTurn,
    generation: Generation,
    send: MemoryObjectSendStream[StreamEvent],
    options: Sequence[ChatOptions],
    store: Store,
    *,
    keep_empty_stops: bool = True,
) -> None:
    """Stream every model at once, then store the question with every answer in one unit of work.

    A model that fails sends its `error` at once; the others go on. A stop (or the time limit)
    ends them all: each stopped answer is kept as far as it got, as a single model's would be.
    Every model then ends with its `done` or `error`, and `end` closes the stream. `store` keeps
    the (id, completion) answers given; without `keep_empty_stops` (a regenerate) an answer
    stopped before any text is no answer: that model ends with an `error`.
    """
    parts: list[list[str]] = [[] for _ in options]
    outcomes: list[Completion | AssistantIAError | None] = [None] * len(options)

    async def relay(index: int, asked: str, chosen: ChatOptions) -> None:
        try:
            stream = model.stream(turn.context_for(asked), chosen)
            try:
                async for piece in stream:
                    if isinstance(piece, Completion):
                        outcomes[index] = piece
                    else:
                        parts[index].append(piece)
                        emit(send, StreamEvent("delta", {"model": asked, "content": piece}))
            finally:
                with anyio.CancelScope(shield=True):  # close the upstream connection even when stopped
                    await stream.aclose()
        except AssistantIAError as exc:
            outcomes[index] = exc
            emit(send, StreamEvent("error", {"model": asked}, error=exc))

    # One scope bounds every call and is what a stop cancels.
    generation.scope.deadline = anyio.current_time() + model.timeout_seconds
    with generation.scope:
        async with anyio.create_task_group() as calls:
            for index, (asked, chosen) in enumerate(zip(turn.models, options, strict=True)):
                calls.start_soon(relay, index, asked, chosen)
    given: list[tuple[str, Completion]] = []
    for index, asked in enumerate(turn.models):
        outcome = outcomes[index]
        if outcome is None and generation.stopped and (parts[index] or keep_empty_stops):
            outcome = Completion("".join(parts[index]), asked, STOPPED)
        elif outcome is None and generation.stopped:
            outcome = NothingToRegenerate(STOPPED_EMPTY)
            emit(send, StreamEvent("error", {"model": asked}, error=outcome))
        elif outcome is None:
            seconds = f"{model.timeout_seconds:g}"
            logger.warning("Upstream stream of %s did not end within %s s", asked, seconds)
            outcome = UpstreamTimeout(f"The AI service did not answer within {seconds} seconds.")
            emit(send, StreamEvent("error", {"model": asked}, error=outcome))
        if isinstance(outcome, Completion):
            given.append((turn.assistant_message_ids[index], outcome))
    await _store(store, turn, given, send)
    emit(send, StreamEvent("end", {"conversation_id": turn.conversation_id}))


async def _store(
    store: Store,
    turn: PreparedTurn,
    given: list[tuple[str, Completion]],
    send: MemoryObjectSendStream[StreamEvent],
) -> None:
    if not given:  # every model failed and said so: nothing to store
        return
    asked_by_id = dict(zip(turn.assistant_message_ids, turn.models, strict=True))
    try:
        await store(given)
    except AssistantIAError as exc:
        # Storing failed (thread deleted meanwhile, caps, storage down): no answer was kept.
        for answer_id, _ in given:
            emit(send, StreamEvent("error", {"model": asked_by_id[answer_id]}, error=exc))
        return
    for answer_id, completion in given:
        usage = completion.usage.as_dict() if completion.usage is not None else None
        emit(
            send,
            StreamEvent(
                "done",
                {
                    "assistant_message_id": answer_id,
                    "model": completion.model,
                    "finish_reason": completion.finish_reason,
                    "usage": usage,
                },
            ),
        )
