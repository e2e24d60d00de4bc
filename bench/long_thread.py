"""A 5,000-message thread against a 50-message one: `python bench/long_thread.py`.

Issue 13: a school keeps some threads all term (thousands of messages). On the TinyDB backend,
in-process (httpx against the ASGI app, fake upstream in memory), this prints the chat turn's
p50 in each thread (with the thread in memory, and cold) and the p50 of
`GET /history/{id}?limit=50` on the first and the last page with the thread's cache cold
(dropped before each request, as a thread not read since start-up: its summary stays).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from BackEnd.app import create_app
from bench.loop_stall import _fill
from tests.utils.api import FakeUpstream, make_settings


async def _measure(
    folder: Path, user_id: str, conversation_id: str, count: int, rounds: int
) -> dict[str, float]:
    """p50 in ms of a chat turn and of cold first and last history pages."""
    from BackEnd.security import TokenCodec

    settings = make_settings(folder)
    app = create_app(settings, upstream_transport=httpx.MockTransport(FakeUpstream().handle))
    token = TokenCodec(settings.jwt_secret or "", algorithm="HS256", expires_minutes=60).issue(user_id)
    headers = {"Authorization": f"Bearer {token}"}
    times: dict[str, list[float]] = {"turn": [], "cold turn": [], "cold first page": [], "cold last page": []}
    async with app.router.lifespan_context(app):
        threads = app.state.context.database.threads
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as client:
            body = {"message": "Et la suite ?", "conversation_id": conversation_id}
            (await client.post("/ai/chat", json=body, headers=headers)).raise_for_status()  # warm
            for _ in range(rounds):
                started = time.perf_counter()
                (await client.post("/ai/chat", json=body, headers=headers)).raise_for_status()
                times["turn"].append(time.perf_counter() - started)
            for _ in range(rounds):
                _drop_cached(threads, user_id, conversation_id)
                started = time.perf_counter()
                (await client.post("/ai/chat", json=body, headers=headers)).raise_for_status()
                times["cold turn"].append(time.perf_counter() - started)
            for name, offset in (("cold first page", 0), ("cold last page", max(count - 50, 0))):
                for _ in range(rounds):
                    _drop_cached(threads, user_id, conversation_id)  # not in memory: read from its file
                    started = time.perf_counter()
                    page = await client.get(
                        f"/history/{conversation_id}?limit=50&offset={offset}", headers=headers
                    )
                    times[name].append(time.perf_counter() - started)
                    page.raise_for_status()
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def _drop_cached(threads: Any, user_id: str, conversation_id: str) -> None:
    """The thread's files out of the cache, as after a start-up: its summary (kept in memory) stays."""
    summary, last = threads.summaries.get(conversation_id), threads.last_message.get(conversation_id)
    threads.forget(user_id, [conversation_id])
    if summary is not None:
        threads.summaries[conversation_id], threads.last_message[conversation_id] = summary, last


def main() -> None:
    parser = argparse.ArgumentParser(prog="python bench/long_thread.py", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--size", type=int, default=600, help="characters per message")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for messages in (50, args.messages):
            folder = Path(scratch) / f"BDD-{messages}"
            user_id, conversation_id = _fill(folder, messages, args.size)
            thread_bytes = (folder / "historique" / f"{conversation_id}.json").stat().st_size
            figures = asyncio.run(_measure(folder, user_id, conversation_id, messages, args.rounds))
            rows.append((messages, thread_bytes, figures))
    base, cold_base = rows[0][2]["turn"], rows[0][2]["cold turn"]
    print(
        "| thread | file | turn p50 | turn ratio | cold turn p50 | cold turn ratio"
        " | cold first page p50 | cold last page p50 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for messages, thread_bytes, figures in rows:
        print(
            f"| {messages:,} messages | {thread_bytes / 1e6:.2f} MB | {figures['turn']:.1f} ms"
            f" | {figures['turn'] / base:.2f}x | {figures['cold turn']:.1f} ms"
            f" | {figures['cold turn'] / cold_base:.2f}x | {figures['cold first page']:.1f} ms"
            f" | {figures['cold last page']:.1f} ms |"
        )


if __name__ == "__main__":
    main()
