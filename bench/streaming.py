"""Streamed answers: time to first delta over SSE, and 100 concurrent streams over SSE and WebSockets."""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from .datasets import DataSet
from .scenarios import _token
from .server import MAIN, Process, UpstreamProcess, bench_env, free_port

__all__ = ["STREAM_ROWS", "measure_streaming", "streaming_table"]

STREAMS = 100
CHUNKS = 200
CHUNK_INTERVAL = 2.0 / CHUNKS  # 200 chunks over 2 s
FIRST_DELTA_SAMPLES = 60
STREAM_ROWS = [
    ("first_delta_overhead_ms", "time to first delta minus the upstream's own, p50", "ms", "≤ 10 ms"),
    ("first_delta_ms", "time to first delta over SSE, p50", "ms", ""),
    ("upstream_first_chunk_ms", "the fake upstream's own time to first chunk, p50", "ms", ""),
    ("upstream_complete", f"baseline: {STREAMS} streams straight from the fake upstream complete", "", ""),
    ("upstream_wall_s", "baseline: the same, wall", "s", ""),
    ("sse_complete", f"{STREAMS} SSE streams of {CHUNKS} chunks complete", "", f"{STREAMS}/{STREAMS}"),
    ("sse_wall_s", f"{STREAMS} SSE streams, wall", "s", "≤ 2.6 s"),
    ("sse_cpu_us", "server CPU per relayed chunk, SSE", "µs", ""),
    ("sse_client_cpu_s", "the bench client's own CPU for them (same machine)", "s", ""),
    ("ws_complete", f"{STREAMS} WebSocket chats of {CHUNKS} chunks complete", "", f"{STREAMS}/{STREAMS}"),
    ("ws_wall_s", f"{STREAMS} WebSocket chats, wall", "s", "≤ 2.6 s"),
    ("ws_cpu_us", "server CPU per relayed chunk, WebSocket", "µs", ""),
    ("ws_client_cpu_s", "the bench client's own CPU for them (same machine)", "s", ""),
]


def measure_streaming(
    data: DataSet, workdir: Path, upstream: UpstreamProcess, *, database_url: str | None
) -> dict[str, float]:
    """Serve the restored set again and measure the streaming figures against it."""
    env = bench_env(
        workdir / f"BDD-{data.messages}",
        database_url,
        PORT=str(free_port()),
        OPENROUTER_API_KEY="bench-key",
        OPENROUTER_BASE_URL=upstream.base_url,
    )
    server = Process([str(MAIN)], env, workdir / f"server-stream-{data.messages}.log")
    threads = _one_thread_per_user(data)
    try:
        server.wait_first_answer()
        upstream.set_latency(0.0)
        upstream.set_stream(1, 0.0)  # one chunk: the first-delta figure is about the start alone
        figures = asyncio.run(_first_delta(server.url, upstream.base_url, threads))
        upstream.set_stream(CHUNKS, CHUNK_INTERVAL)
        # The baseline: the same 100 streams straight from the fake upstream, on the same machine.
        figures["upstream_complete"], figures["upstream_wall_s"] = asyncio.run(
            _sse_streams(upstream.base_url, threads[:STREAMS], direct=True)
        )
        for transport, run in (("sse", _sse_streams), ("ws", _socket_streams)):
            before, client_before = server.cpu_seconds(), time.process_time()
            complete, wall = asyncio.run(run(server.url, threads[:STREAMS]))
            figures[f"{transport}_client_cpu_s"] = time.process_time() - client_before
            figures[f"{transport}_complete"] = complete
            figures[f"{transport}_wall_s"] = wall
            figures[f"{transport}_cpu_us"] = 1e6 * (server.cpu_seconds() - before) / (STREAMS * CHUNKS)
    finally:
        upstream.set_stream(CHUNKS, CHUNK_INTERVAL)
        server.stop()
    return figures


def streaming_table(by_store: dict[str, dict[str, float]]) -> str:
    """A Markdown table: one column per storage backend."""
    stores = list(by_store)
    lines = [
        f"| figure | target | {' | '.join(stores)} |",
        f"|---|---|{'---|' * len(stores)}",
    ]
    for key, label, unit, target in STREAM_ROWS:
        cells = []
        for store in stores:
            value = by_store[store].get(key)
            cells.append(
                "—" if value is None else f"{value:,.0f}" if unit in ("", "µs") else f"{value:.2f} {unit}"
            )
        lines.append(f"| {label} | {target} | {' | '.join(cells)} |")
    return "\n".join(lines)


def _one_thread_per_user(data: DataSet) -> list[tuple[str, str]]:
    """(token, conversation id): a thread of each user, so no account holds two streams."""
    first: dict[str, str] = {}
    for conversation_id in data.conversations_with_messages:
        first.setdefault(data.owner_of[conversation_id], conversation_id)
    return [(_token(user_id), thread) for user_id, thread in first.items()]


async def _first_delta(url: str, upstream_url: str, threads: list[tuple[str, str]]) -> dict[str, float]:
    body = {"messages": [{"role": "user", "content": "hi"}], "stream": True, "model": "bench"}
    own, through = [], []
    async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
        for index, (token, thread) in enumerate(
            itertools.islice(itertools.cycle(threads), FIRST_DELTA_SAMPLES + 5)
        ):
            own_ms = await _until_first(client, f"{upstream_url}/chat/completions", body, {}, b"data: {")
            headers = {"Authorization": f"Bearer {token}"}
            turn = {"message": "And then?", "conversation_id": thread}
            through_ms = await _until_first(client, f"{url}/ai/chat/stream", turn, headers, b"event: delta")
            if index >= 5:  # the first few warm the connections up
                own.append(own_ms)
                through.append(through_ms)
    return {
        "upstream_first_chunk_ms": statistics.median(own),
        "first_delta_ms": statistics.median(through),
        "first_delta_overhead_ms": statistics.median(through) - statistics.median(own),
    }


async def _until_first(
    client: httpx.AsyncClient, url: str, body: object, headers: dict[str, str], marker: bytes
) -> float:
    """Milliseconds from sending to the first `marker` in the streamed answer; reads it to the end."""
    start = time.perf_counter()
    seen: float | None = None
    received = b""
    async with client.stream("POST", url, json=body, headers=headers) as response:
        response.raise_for_status()
        async for piece in response.aiter_bytes():
            received += piece
            if seen is None and marker in received:
                seen = (time.perf_counter() - start) * 1000
    assert seen is not None, received[-300:]
    return seen


async def _sse_streams(
    url: str, threads: list[tuple[str, str]], *, direct: bool = False
) -> tuple[int, float]:
    """100 streams at once through the server, or `direct` from the upstream (the baseline).

    A bare asyncio client (as bench/client.py's burst): httpx's per-chunk work in this process
    would compete with the server for the same 2 cores and measure the client instead.
    """
    port = int(url.split(":")[2].split("/")[0])
    if direct:
        path, delta, end = b"/v1/chat/completions", b'"content"', b"[DONE]"
    else:
        path, delta, end = b"/ai/chat/stream", b"event: delta", b"event: done"

    async def one(token: str, thread: str) -> bool:
        turn = {"message": "Tell me a long story", "conversation_id": thread, "stream": True}
        body = json.dumps(turn).encode()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(
                b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s"
                % (path, token.encode(), len(body), body)
            )
            received = b""
            while end not in received and b"event: error" not in received:
                piece = await reader.read(65536)
                if not piece:
                    break
                received += piece
            return received.count(delta) == CHUNKS and end in received
        finally:
            writer.close()

    start = time.perf_counter()
    results = await asyncio.gather(*(one(token, thread) for token, thread in threads))
    return sum(results), time.perf_counter() - start


async def _socket_streams(url: str, threads: list[tuple[str, str]]) -> tuple[int, float]:
    socket_url = url.replace("http://", "ws://") + "/ai/ws"

    async def one(token: str, thread: str) -> bool:
        async with connect(socket_url, max_size=None) as ws:
            await ws.send(json.dumps({"type": "auth", "token": token}))
            await ws.recv()
            await ws.send(
                json.dumps({"type": "chat", "message": "Tell me a long story", "conversation_id": thread})
            )
            deltas = 0
            while True:
                event = json.loads(await ws.recv())
                if event["type"] == "delta":
                    deltas += 1
                elif event["type"] in ("done", "error"):
                    return deltas == CHUNKS and event["type"] == "done"

    start = time.perf_counter()
    results = await asyncio.gather(*(one(token, thread) for token, thread in threads))
    return sum(results), time.perf_counter() - start
