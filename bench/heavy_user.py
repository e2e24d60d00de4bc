"""One account with 5,000 conversations, and what it costs everyone: `python bench/heavy_user.py`.

Issue 14 (item 6): an account with thousands of conversations made its own list slow and every
other user's list and history slower while it polled. This script serves the real app (httpx
against the ASGI app) on a data folder where one account holds MAX_CONVERSATIONS_PER_USER
conversations and 20 others hold 10 each, and prints, as p50 over many requests:
the heavy account's `GET /conversations` and `POST /conversations`; another account's list and
history alone, then while the heavy account polls its list 10 times a second (an eager SPA), then
without pause (a client that saturates one server process, which the other account shares).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from BackEnd.app import create_app
from BackEnd.records import conversation_record, message_record, new_id, utc_now
from BackEnd.security import TokenCodec
from BackEnd.storage import TinyDBDatabase, open_database
from tests.utils.api import FakeUpstream, make_settings


def _account(unit_of_work: object, email: str) -> str:
    user_id = new_id("usr")
    user = {
        "id": user_id,
        "email": email,
        "name": email,
        "role": "user",
        "password_hash": "x",
        "created_at": utc_now(),
    }
    unit_of_work.accounts.add(user)  # type: ignore[attr-defined]
    return user_id


def _fill(folder: Path, database_url: str | None, threads: int) -> tuple[str, str, str]:
    """The heavy account, another account, and one of that other account's threads."""
    settings = make_settings(folder, database_url=database_url)
    database = open_database(settings) if database_url else TinyDBDatabase.open(folder)
    try:
        with database.unit_of_work() as unit:
            heavy = _account(unit, "heavy@example.com")
            others = [_account(unit, f"student{index}@example.com") for index in range(20)]
        with database.unit_of_work(heavy) as unit:
            for index in range(threads - 1):  # room for the creates measured below
                unit.threads.add(conversation_record(heavy, f"Conversation {index} sur la musique"))
        thread = ""
        for other in others:
            with database.unit_of_work(other) as unit:
                for index in range(10):
                    conversation = conversation_record(other, f"Exercice {index}")
                    unit.threads.add(conversation)
                    turn = [
                        message_record(other, conversation["id"], "user", "question " * 60),
                        message_record(other, conversation["id"], "assistant", "réponse " * 60),
                    ]
                    for _ in range(10):
                        unit.threads.append(other, conversation["id"], turn)
                    thread = conversation["id"]
    finally:
        database.close()
    return heavy, others[-1], thread


async def _p50(call: Callable[[], Awaitable[httpx.Response]], samples: int) -> float:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        (await call()).raise_for_status()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


async def _measure(
    folder: Path, database_url: str | None, samples: int, threads: int
) -> list[tuple[str, float]]:
    heavy, other, thread = _fill(folder, database_url, threads)
    settings = make_settings(folder, database_url=database_url, max_conversations_per_user=threads + samples)
    app = create_app(settings, upstream_transport=httpx.MockTransport(FakeUpstream().handle))
    codec = TokenCodec(settings.jwt_secret or "", algorithm="HS256", expires_minutes=60)
    heavy_headers = {"Authorization": f"Bearer {codec.issue(heavy)}"}
    other_headers = {"Authorization": f"Bearer {codec.issue(other)}"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

            def other_list() -> Awaitable[httpx.Response]:
                return client.get("/conversations", headers=other_headers)

            def other_history() -> Awaitable[httpx.Response]:
                return client.get(f"/history/{thread}?limit=50", headers=other_headers)

            rows = [
                (
                    "heavy account: GET /conversations",
                    await _p50(lambda: client.get("/conversations", headers=heavy_headers), samples),
                ),
                (
                    "heavy account: POST /conversations",
                    await _p50(
                        lambda: client.post("/conversations", json={}, headers=heavy_headers), samples
                    ),
                ),
                ("other account: GET /conversations, alone", await _p50(other_list, samples)),
                ("other account: GET /history/{id}, alone", await _p50(other_history, samples)),
            ]
            for pause, how in ((0.1, "polling 10 times a second"), (0.0, "polling without pause")):
                stop = asyncio.Event()

                async def poll(pause: float = pause, stop: asyncio.Event = stop) -> None:
                    while not stop.is_set():
                        await client.get("/conversations", headers=heavy_headers)
                        await asyncio.sleep(pause)

                poller = asyncio.create_task(poll())
                for label, call in (("GET /conversations", other_list), ("GET /history/{id}", other_history)):
                    rows.append((f"other account: {label}, heavy account {how}", await _p50(call, samples)))
                stop.set()
                await poller
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python bench/heavy_user.py", description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=5_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument(
        "--database-url", default=None, help="an empty SQL database to fill (default: TinyDB)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        rows = asyncio.run(
            _measure(Path(scratch) / "BDD", args.database_url, args.samples, args.conversations)
        )
    alone = {label.split(",")[0]: value for label, value in rows if label.endswith("alone")}
    print("| request | p50 | vs alone |")
    print("|---|---:|---:|")
    for label, value in rows:
        base = alone.get(label.split(",")[0])
        ratio = f"{value / base:.2f}x" if base and "polling" in label else ""
        print(f"| {label} | {value:.2f} ms | {ratio} |")


if __name__ == "__main__":
    main()
