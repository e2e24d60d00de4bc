"""How long a chat turn in a very long thread holds the event loop: `python bench/loop_stall.py`.

Issue 15 (defect 7): a 2,000-message thread of 40,000-byte messages (an 80 MB file) once took
374 ms a turn and blocked the event loop for 151 ms, so every other request waited. This
script builds such a thread on the TinyDB backend, runs turns through the real app (httpx
against the ASGI app, fake upstream in memory) while a ticker on the same loop records its
longest gap, and prints the figures beside a 50-message thread measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from BackEnd.app import create_app
from BackEnd.records import conversation_record, message_record, new_id, utc_now, with_account_defaults
from BackEnd.storage import TinyDBDatabase
from tests.utils.api import FakeUpstream, make_settings

TICK_SECONDS = 0.001


def _fill(folder: Path, messages: int, size: int) -> tuple[str, str]:
    """A data folder with one account holding one thread of `messages` messages of `size` bytes."""
    database = TinyDBDatabase.open(folder)
    try:
        user_id = new_id("usr")
        with database.unit_of_work() as unit:
            unit.accounts.add(
                with_account_defaults(
                    {
                        "id": user_id,
                        "email": "long@example.com",
                        "name": "long",
                        "role": "user",
                        "password_hash": "x",
                        "created_at": utc_now(),
                    }
                )
            )
        conversation = conversation_record(user_id, "long")
        text = ("Un long exercice de mathématiques. " * (size // 35 + 1))[:size]
        with database.unit_of_work(user_id) as unit:
            unit.threads.add(conversation)
            for start in range(0, messages, 2):
                turn = [
                    message_record(user_id, conversation["id"], "user", text),
                    message_record(user_id, conversation["id"], "assistant", text),
                ]
                unit.threads.append(user_id, conversation["id"], turn[: messages - start])
    finally:
        database.close()
    return user_id, conversation["id"]


async def _measure(folder: Path, user_id: str, conversation_id: str, turns: int) -> tuple[float, float]:
    """(p50 turn in ms, longest event-loop stall in ms) over `turns` chat turns."""
    from BackEnd.security import TokenCodec

    settings = make_settings(folder)
    upstream = FakeUpstream()
    app = create_app(settings, upstream_transport=httpx.MockTransport(upstream.handle))
    token = TokenCodec(settings.jwt_secret or "", algorithm="HS256", expires_minutes=60).issue(user_id)
    headers = {"Authorization": f"Bearer {token}"}
    longest = 0.0
    running = True

    async def ticker() -> None:
        nonlocal longest
        last = time.perf_counter()
        while running:
            await asyncio.sleep(TICK_SECONDS)
            now = time.perf_counter()
            longest = max(longest, now - last - TICK_SECONDS)
            last = now

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as client:
            body = {"message": "Et la suite ?", "conversation_id": conversation_id}
            warm = await client.post("/ai/chat", json=body, headers=headers)  # first read of the file
            warm.raise_for_status()
            task = asyncio.create_task(ticker())
            times = []
            for _ in range(turns):
                started = time.perf_counter()
                (await client.post("/ai/chat", json=body, headers=headers)).raise_for_status()
                times.append(time.perf_counter() - started)
            running = False
            await task
    return statistics.median(times) * 1000, longest * 1000


def main() -> None:
    parser = argparse.ArgumentParser(prog="python bench/loop_stall.py", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2_000)
    parser.add_argument("--size", type=int, default=40_000, help="bytes per message")
    parser.add_argument("--turns", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        rows = []
        for label, messages, size in (
            ("baseline: 50 messages of 600 bytes", 50, 600),
            (f"{args.messages:,} messages of {args.size:,} bytes", args.messages, args.size),
        ):
            folder = Path(scratch) / f"BDD-{messages}"
            user_id, conversation_id = _fill(folder, messages, size)
            thread_bytes = (folder / "historique" / f"{conversation_id}.json").stat().st_size
            turn, stall = asyncio.run(_measure(folder, user_id, conversation_id, args.turns))
            rows.append((label, thread_bytes, turn, stall))
    base_turn = rows[0][2]
    print("| thread | file | turn p50 | ratio | longest loop stall |")
    print("|---|---:|---:|---:|---:|")
    for label, thread_bytes, turn, stall in rows:
        print(
            f"| {label} | {thread_bytes / 1e6:.1f} MB | {turn:.1f} ms | {turn / base_turn:.1f}x | {stall:.1f} ms |"
        )


if __name__ == "__main__":
    main()
