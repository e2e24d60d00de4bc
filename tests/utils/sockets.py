"""A WebSocket client driving the ASGI app in this event loop (httpx speaks no WebSocket)."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI

from tests.utils.streams import FAIL_SAFE_SECONDS


class TestSocket:
    """One socket: what the client sends goes to the app; what the app sends is read in order."""

    __test__ = False  # not a test class, despite its name

    def __init__(self) -> None:
        self._to_app_send, self._to_app = anyio.create_memory_object_stream[dict[str, Any]](math.inf)
        self._from_app_send, self._from_app = anyio.create_memory_object_stream[dict[str, Any]](math.inf)
        self.accepted = False
        self.close_code: int | None = None

    async def send(self, document: object) -> None:
        await self.send_text(json.dumps(document))

    async def send_text(self, text: str) -> None:
        await self._to_app_send.send({"type": "websocket.receive", "text": text})

    async def receive(self) -> dict[str, Any]:
        """The app's next JSON message; fails if the app closes the socket instead."""
        message = await self._next()
        assert message["type"] == "websocket.send", message
        return json.loads(message["text"])  # type: ignore[no-any-return]

    async def until(self, kind: str, request_id: object = None) -> list[dict[str, Any]]:
        """Every message up to and including the next of `kind` (for `request_id`, if given)."""
        seen = []
        while True:
            message = await self.receive()
            seen.append(message)
            if message["type"] == kind and (request_id is None or message.get("request_id") == request_id):
                return seen

    async def closed_with(self) -> int:
        """The close code the app sends next (messages before it are skipped)."""
        while True:
            message = await self._next()
            if message["type"] == "websocket.close":
                return int(message.get("code", 1000))

    async def disconnect(self) -> None:
        await self._to_app_send.send({"type": "websocket.disconnect", "code": 1001})

    async def _next(self) -> dict[str, Any]:
        with anyio.fail_after(FAIL_SAFE_SECONDS):
            return await self._from_app.receive()

    async def run(self, app: FastAPI, headers: list[tuple[bytes, bytes]]) -> None:
        scope = {
            "type": "websocket", "asgi": {"version": "3.0"}, "http_version": "1.1", "scheme": "ws",
            "path": "/ai/ws", "raw_path": b"/ai/ws", "query_string": b"", "root_path": "",
            "headers": [(b"host", b"testserver"), *headers], "client": ("127.0.0.1", 1),
            "server": ("testserver", 80), "subprotocols": [],
        }  # fmt: skip
        first = True

        async def receive() -> dict[str, Any]:
            nonlocal first
            if first:
                first = False
                return {"type": "websocket.connect"}
            return await self._to_app.receive()

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "websocket.accept":
                self.accepted = True  # kept out of the messages the test reads
                return
            await self._from_app_send.send(message)

        try:
            await app(scope, receive, send)
        finally:
            await self._from_app_send.send({"type": "websocket.close", "code": 1006})


@asynccontextmanager
async def socket(app: FastAPI, *, origin: str | None = None) -> AsyncIterator[TestSocket]:
    """A socket open to `app` for the block; the client disconnects when it ends."""
    client = TestSocket()
    headers = [] if origin is None else [(b"origin", origin.encode())]
    async with anyio.create_task_group() as group:
        group.start_soon(client.run, app, headers)
        yield client
        await client.disconnect()
