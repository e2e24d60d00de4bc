"""Asking several models the same turn at once (issue 10): each call's answer or error, in order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import anyio

from ..completion import ChatOptions, Completion
from ..errors import AssistantIAError
from ..llm import ChatModel

if TYPE_CHECKING:
    from .chat import PreparedTurn

__all__ = ["answers_given", "ask_models"]


async def ask_models(
    model: ChatModel, turn: PreparedTurn, asked: Sequence[ChatOptions]
) -> list[Completion | AssistantIAError]:
    """Each option's completion or domain error, in the order asked; the calls overlap.

    A model's failure never cancels the others: the turn takes as long as the slowest call.
    """
    outcomes: list[Completion | AssistantIAError | None] = [None] * len(asked)

    async def ask(index: int, options: ChatOptions) -> None:
        try:
            outcomes[index] = await model.complete(turn.context_for(options.model or model.model), options)
        except AssistantIAError as exc:
            outcomes[index] = exc

    if len(asked) == 1:  # the usual turn: no task group to set up
        await ask(0, asked[0])
    else:
        async with anyio.create_task_group() as calls:
            for index, options in enumerate(asked):
                calls.start_soon(ask, index, options)
    return [outcome for outcome in outcomes if outcome is not None]


def answers_given(
    answer_ids: Sequence[str], outcomes: Sequence[Completion | AssistantIAError]
) -> list[tuple[str, Completion]]:
    """(announced id, completion) of each model that answered; the first failure if none did."""
    given = [
        (answer_id, outcome)
        for answer_id, outcome in zip(answer_ids, outcomes, strict=True)
        if isinstance(outcome, Completion)
    ]
    if not given:
        raise next(outcome for outcome in outcomes if isinstance(outcome, AssistantIAError))
    return given
