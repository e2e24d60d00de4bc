"""Streaming test helpers: a fake upstream stream, an SSE parser, and raw ASGI calls seen as they go."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
from fastapi import FastAPI

FAIL_SAFE_SECONDS = 10.0  # a broken test fails after this instead of hanging; never a speed check


def chunk(content: str | None = None, **extra: Any) -> bytes:
    """One `data:` line of an OpenAI-compatible stream."""
    choice: dict[str, Any] = {"index": 0, "delta": {} if content is None else {"content": content}}
    if "finish_reason" in extra:
        choice["finish_reason"] = extra.pop("finish_reason")
    document = {
        "id": "gen-1",
        "model": extra.pop("model", "vendor/answering-model"),
        "choices": [choice],
        **extra,
    }
    return b"data: " + json.dumps(document).encode() + b"\n\n"


USAGE = {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14, "cost": 0.0002}


@dataclass
class StreamScript:
    """What the fake upstream streams: `parts` as deltas, with comments and empty chunks between.

    `hold_after` parts, it waits for `release` (a hang); `fail` then ends it with an error chunk
    ("error"), a dropped connection ("drop"), or a stream cut without its end ("cut").
    """

    parts: list[str] = field(default_factory=lambda: ["Hel", "lo ", "world"])
    hold_after: int | None = None
    fail: str | None = None
    status: int = 200
    sent: int = 0
    release: anyio.Event = field(default_factory=anyio.Event)
    held: anyio.Event = field(default_factory=anyio.Event)

    def response(self, request: httpx.Request) -> httpx.Response:
        if self.status != 200:
            return httpx.Response(self.status, json={"error": {"code": self.status, "message": "no"}})
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=self._body())

    async def _body(self) -> AsyncIterator[bytes]:
        yield b": OPENROUTER PROCESSING\n\n"
        yield chunk("", model="vendor/answering-model")  # an empty first chunk, as providers send
        for index, part in enumerate(self.parts):
            if index == self.hold_after:
                self.held.set()
                await self.release.wait()
            yield chunk(part)
            self.sent += 1
            yield b": OPENROUTER PROCESSING\n\n"
        if self.hold_after is not None and self.hold_after >= len(self.parts):
            self.held.set()
            await self.release.wait()
        if self.fail == "error":
            yield chunk(
                None, finish_reason="error", error={"code": "server_error", "message": "provider down"}
            )
            return
        if self.fail == "drop":
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
        if self.fail == "cut":
            return
        yield chunk(None, finish_reason="stop")
        yield chunk(None, usage=USAGE, choices=[])
        yield b"data: [DONE]\n\n"


def sse_events(body: str) -> list[tuple[str, dict[str, Any]]]:
    """The (event, data) pairs of an SSE body; comments are left out."""
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if not lines:
            continue
        fields = dict(line.split(": ", 1) for line in lines)
        events.append((fields.get("event", "message"), json.loads(fields["data"])))
    return events


@dataclass
class RawCall:
    """A request sent straight into the ASGI app, whose body is seen chunk by chunk as it is sent."""

    app: FastAPI
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    chunks: list[bytes] = field(default_factory=list)
    status: int | None = None
    finished: anyio.Event = field(default_factory=anyio.Event)
    _gone: anyio.Event = field(default_factory=anyio.Event)
    _body_sent: bool = False

    @property
    def text(self) -> str:
        return b"".join(self.chunks).decode()

    def disconnect(self) -> None:
        """The client goes away (a closed tab)."""
        self._gone.set()

    async def run(self) -> None:
        raw = json.dumps(self.body).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
        headers += [(name.lower().encode(), value.encode()) for name, value in self.headers.items()]
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": self.path, "raw_path": self.path.encode(), "query_string": b"",
            "root_path": "", "headers": headers, "client": ("127.0.0.1", 1), "server": ("testserver", 80),
        }  # fmt: skip

        async def receive() -> dict[str, Any]:
            if not self._body_sent:
                self._body_sent = True
                return {"type": "http.request", "body": raw, "more_body": False}
            await self._gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
            elif message["type"] == "http.response.body":
                self.chunks.append(message.get("body", b""))

        try:
            await self.app(scope, receive, send)
        finally:
            self.finished.set()

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        with anyio.fail_after(FAIL_SAFE_SECONDS):
            while not condition():
                await anyio.sleep(0.005)


async def eventually(condition: Callable[[], Any]) -> None:
    """Wait until `condition()` (sync or async) is true; fails after the fail-safe delay."""
    with anyio.fail_after(FAIL_SAFE_SECONDS):
        while True:
            result = condition()
            if hasattr(result, "__await__"):
                result = await result
            if result:
                return
            await anyio.sleep(0.01)
