"""What each model remembers of a thread: one answer per earlier turn, its own when it gave one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..records import MessageRecord

__all__ = ["MAX_ANSWERS_PER_TURN", "memory_for", "rows_for_window", "shares_turns"]

# A turn holds its question and at most this many answers (`models` takes 2 to 4).
MAX_ANSWERS_PER_TURN = 4


def rows_for_window(window: int) -> int:
    """How many stored messages to read so that `window` remain once each turn keeps one answer."""
    if window <= 0:
        return 0
    # `window` messages span at most window // 2 + 1 turns, each stored as 1 + 4 messages.
    return (window // 2 + 1) * (1 + MAX_ANSWERS_PER_TURN)


def shares_turns(messages: list[MessageRecord]) -> bool:
    """Whether two of these answers reply to one question (a several-model turn)."""
    questions = [message.get("reply_to") for message in messages if message["role"] == "assistant"]
    replied = [question for question in questions if question is not None]
    return len(set(replied)) < len(replied)


def memory_for(
    earlier: list[MessageRecord],
    model: str,
    window: int,
    content_of: Callable[[MessageRecord], Any] = lambda message: message["content"],
) -> list[dict[str, Any]]:
    """The last `window` messages `model` is shown, oldest first, as `{role, content}`.

    `content_of` gives what the model gets of a message (its text, or content parts with images).

    Each earlier question is followed by `model`'s own answer to it when there is one, else by
    that turn's first answer. An answer stored before `reply_to` existed answers the question
    before it (one answer per turn then).
    """
    turns: list[tuple[MessageRecord | None, list[MessageRecord]]] = []
    position: dict[str, int] = {}
    for message in earlier:
        if message["role"] == "user":
            position[message["id"]] = len(turns)
            turns.append((message, []))
            continue
        target = position.get(message.get("reply_to") or "")
        if target is None:
            if not turns:  # the window starts inside a turn whose question it cut off
                turns.append((None, []))
            target = len(turns) - 1
        turns[target][1].append(message)
    shown: list[dict[str, Any]] = []
    for question, answers in turns:
        if question is not None:
            shown.append({"role": "user", "content": content_of(question)})
        if answers:
            own = next((answer for answer in answers if answer.get("model") == model), answers[0])
            shown.append({"role": "assistant", "content": content_of(own)})
    return shown[-window:] if window > 0 else []
