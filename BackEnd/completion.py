"""What one model call produced: the text, the model that wrote it, why it stopped, what it cost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ChatOptions", "Completion", "Usage"]


@dataclass(frozen=True)
class Usage:
    """Token counts as the upstream reported them; `cost` only when it reports one."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: float | None = None

    @classmethod
    def from_upstream(cls, body: Any) -> Usage | None:
        """The usage object of an OpenAI-compatible answer or last stream chunk, or None if absent."""
        if not isinstance(body, dict):
            return None
        counts = [_count(body.get(name)) for name in ("prompt_tokens", "completion_tokens", "total_tokens")]
        if all(count is None for count in counts):
            return None
        prompt, completion, total = (count or 0 for count in counts)
        cost = body.get("cost")
        if not isinstance(cost, int | float) or isinstance(cost, bool) or not 0 <= cost < 10**9:
            cost = None  # NaN fails the range check too
        return cls(prompt, completion, total or prompt + completion, None if cost is None else float(cost))

    def as_dict(self) -> dict[str, Any]:
        """The shape stored with a message and returned by the API."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "cost": self.cost,
        }


@dataclass(frozen=True)
class Completion:
    """A model's answer: `model` is the one that actually answered (`openrouter/auto` picks one)."""

    content: str
    model: str
    finish_reason: str | None = None
    usage: Usage | None = None


@dataclass(frozen=True)
class ChatOptions:
    """What a turn asks of the model; None leaves the choice to the upstream (or, for `model`,
    to OPENROUTER_MODEL). Resolved from the request, the caller's preferences and the allow-list
    by `services/chat_options.py`."""

    model: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None

    def sampling(self) -> dict[str, Any]:
        """The sampling parameters to send upstream: only those that were chosen."""
        chosen = {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens}
        return {name: value for name, value in chosen.items() if value is not None}


def _count(value: object) -> int | None:
    # Counts come from outside: a bool, a negative or an absurd number is no count at all.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**12:
        return value
    return None
