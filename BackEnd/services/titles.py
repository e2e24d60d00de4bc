"""Automatic titles (issue 10 part 4): after a thread's first turn, the model names the thread."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import anyio

from ..completion import ChatOptions, Completion
from ..errors import AssistantIAError
from ..llm import ChatModel
from ..records import utc_now
from ..storage import Database
from .generations import Generations

__all__ = ["MAX_TITLE_CHARS", "TitleWriter", "usable_title"]

logger = logging.getLogger(__name__)

MAX_TITLE_CHARS = 60
_QUOTES = "\"'«»“”‘’`"
_INSTRUCTION = (
    "Write a title of at most 60 characters for a conversation that starts with the user's message "
    "below. Use the language of the message. Answer with the title alone: no quotes, no final period."
)
# A title is a few words: a bound on what a confused model may cost.
_TITLE_TOKENS = 40


def usable_title(answer: str) -> str | None:
    """The model's answer as a title (one line, unquoted), or None when it is empty or over-long."""
    lines = [line.strip() for line in answer.strip().splitlines() if line.strip()]
    if len(lines) != 1:
        return None
    title = " ".join(lines[0].strip(_QUOTES + " ").split()).rstrip(".").strip()
    if not title or len(title) > MAX_TITLE_CHARS:
        return None
    return title


@dataclass(frozen=True)
class TitleWriter:
    """Asks for a thread's title beside the requests, so no answer waits for it."""

    database: Database
    model: ChatModel
    generations: Generations
    title_model: str | None  # None: OPENROUTER_MODEL

    def after_first_turn(self, user_id: str, conversation_id: str, message: str, derived: str) -> None:
        """Start naming the thread; the title replaces `derived` only if the thread still has it."""

        async def work() -> None:
            await self._name(user_id, conversation_id, message, derived)

        self.generations.background(work)

    async def _name(self, user_id: str, conversation_id: str, message: str, derived: str) -> None:
        context = [{"role": "system", "content": _INSTRUCTION}, {"role": "user", "content": message}]
        options = ChatOptions(model=self.title_model, max_tokens=_TITLE_TOKENS)
        try:
            completion = await self.model.complete(context, options)
            title = usable_title(completion.content)
            replaced = await anyio.to_thread.run_sync(
                _store_title, self.database, user_id, conversation_id, derived, title, completion
            )
        except AssistantIAError as exc:  # an upstream or storage failure: the derived title stays
            logger.warning("No automatic title for %s: %s", conversation_id, exc)
            return
        if title is None:
            logger.warning(
                "No automatic title for %s: unusable answer %r", conversation_id, completion.content[:80]
            )
        elif not replaced:
            logger.info("Automatic title for %s dropped: the thread was renamed or deleted", conversation_id)


def _store_title(
    database: Database,
    user_id: str,
    conversation_id: str,
    derived: str,
    title: str | None,
    completion: Completion,
) -> bool:
    # The tokens were spent whatever became of the title: counted like a turn's, in one unit.
    with database.unit_of_work(user_id) as unit:
        if unit.accounts.get(user_id) is None:
            return False
        unit.usage.record_unstored(user_id, utc_now()[:10], completion.model, completion.usage)
        if completion.usage is not None and completion.usage.total_tokens > 0:
            unit.accounts.spend_credits(user_id, completion.usage.total_tokens)
        if title is None:
            return False
        return unit.threads.retitle(user_id, conversation_id, title, if_title=derived)
