"""A fake OpenAI-compatible upstream on 127.0.0.1: asyncio, HTTP/1.1 keep-alive, settable latency.

A request with `"stream": true` gets a streamed answer (see `stream`). Run as its own process (`python bench/upstream.py`); it prints its port on the first line.
`POST /_latency` with a body such as `1.0` sets the delay of every later answer, in seconds, and
starts a new record of arrivals; `GET /_arrivals` returns the `time.monotonic()` at which each
chat request arrived since then, so the bench can tell when the server had sent them all.
A thread-per-connection server cannot hold 100 delayed answers at once without skewing the
burst, so this one answers from one event loop.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

ANSWER = "Here is the explanation you asked for. " * 15  # ~600 bytes, like a real short answer
_BODY = json.dumps(
    {
        "id": "gen-bench",
        "object": "chat.completion",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}
        ],
        # As OpenRouter reports it: each stored answer carries it and the usage ledger counts it.
        "model": "openai/gpt-4o-mini",
        "usage": {"prompt_tokens": 412, "completion_tokens": 150, "total_tokens": 562, "cost": 0.000152},
    }
).encode()

_DELTA = b'data: {"model": "bench/streamer", "choices": [{"index": 0, "delta": {"content": "word "}}]}\n\n'
_STREAM_END = (
    b'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\n'
    b'data: {"choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": 200, "total_tokens": 220}}\n\n'
    b"data: [DONE]\n\n"
)


class FakeUpstream:
    """Answers every `POST …/chat/completions` with the same answer after `latency` seconds."""

    def __init__(self) -> None:
        self.latency = 0.0
        self.arrivals: list[float] = []
        self.stream_chunks = 200.0  # a streamed answer: this many chunks (`POST /_stream` "200 0.01")
        self.stream_interval = 0.01  # seconds between two chunks; the first comes after `latency`

    async def stream(self, writer: asyncio.StreamWriter) -> None:
        """A streamed answer (HTTP/1.1 chunked): comments, `stream_chunks` deltas, usage, `[DONE]`."""

        def chunk(data: bytes) -> bytes:
            return b"%x\r\n%s\r\n" % (len(data), data)

        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        writer.write(chunk(b": OPENROUTER PROCESSING\n\n"))
        await writer.drain()
        if self.latency:
            await asyncio.sleep(self.latency)
        # Chunk i leaves at first + i × interval: a busy loop delays a chunk, never the schedule.
        first = time.monotonic()
        for index in range(int(self.stream_chunks)):
            delay = first + index * self.stream_interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            writer.write(chunk(_DELTA))
            await writer.drain()
        writer.write(chunk(_STREAM_END) + b"0\r\n\r\n")
        await writer.drain()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                length = 0
                for line in header_lines:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                if b'"stream": true' in body or b'"stream":true' in body:
                    self.arrivals.append(time.monotonic())
                    await self.stream(writer)
                    continue
                if request_line.startswith("POST /_stream"):
                    self.stream_chunks, self.stream_interval = (float(part) for part in body.split())
                    payload = b"{}"
                elif request_line.startswith("POST /_latency"):
                    self.latency = float(body)
                    self.arrivals = []
                    payload = b"{}"
                elif request_line.startswith("GET /_arrivals"):
                    payload = json.dumps(self.arrivals).encode()
                else:
                    self.arrivals.append(time.monotonic())
                    if self.latency:
                        await asyncio.sleep(self.latency)
                    payload = _BODY
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed the connection
        finally:
            writer.close()


async def _serve() -> None:
    upstream = FakeUpstream()
    server = await asyncio.start_server(upstream.handle, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(_serve())
    except KeyboardInterrupt:
        sys.exit(0)
