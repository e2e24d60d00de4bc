"""A fake upstream for several-model turns: answers by model, fails chosen ones, measures overlap."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx

from tests.utils.streams import FAIL_SAFE_SECONDS, chunk

USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "cost": None}


@dataclass
class ModelsUpstream:
    """Each model answers "<model> says: <last message>"; models in `failing` answer a 500.

    With `gather` set, each call waits (bounded by FAIL_SAFE_SECONDS) until that many calls are
    in flight at once: calls made one after another never get there, so `most_at_once` stays 1.
    """

    failing: set[str] = field(default_factory=set)
    gather: int = 0
    in_flight: int = 0
    most_at_once: int = 0
    contexts: dict[str, list[list[dict[str, Any]]]] = field(default_factory=dict)
    # Streams wait here after their first half, once `halfway` of them got there (a stop's moment).
    hold: anyio.Event | None = None
    halfway: int = 0
    hold_before_text: bool = False  # hold before the first half instead (a stop before any text)
    all_halfway: anyio.Event = field(default_factory=anyio.Event)
    _all_there: anyio.Event = field(default_factory=anyio.Event)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        model, messages = body["model"], body["messages"]
        self.contexts.setdefault(model, []).append(messages)
        self.in_flight += 1
        self.most_at_once = max(self.most_at_once, self.in_flight)
        try:
            if self.gather:
                if self.in_flight >= self.gather:
                    self._all_there.set()
                with anyio.move_on_after(FAIL_SAFE_SECONDS):
                    await self._all_there.wait()
        finally:
            self.in_flight -= 1
        if model in self.failing:
            return httpx.Response(500, json={"error": {"code": 500, "message": "provider down"}})
        text = f"{model} says: {messages[-1]['content']}"
        if body.get("stream"):
            return httpx.Response(
                200, headers={"content-type": "text/event-stream"}, content=self._streamed(model, text)
            )
        return httpx.Response(
            200,
            json={
                "model": model,
                "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": USAGE,
            },
        )

    async def _streamed(self, model: str, text: str) -> AsyncIterator[bytes]:
        half = len(text) // 2
        if self.hold is not None and self.hold_before_text:
            self.halfway += 1
            await self.hold.wait()
        yield chunk(text[:half], model=model)
        if self.hold is not None and not self.hold_before_text:
            self.halfway += 1
            self.all_halfway.set()
            await self.hold.wait()
        yield chunk(text[half:], model=model)
        yield chunk(None, finish_reason="stop", model=model)
        yield chunk(None, usage=USAGE, choices=[], model=model)
        yield b"data: [DONE]\n\n"
