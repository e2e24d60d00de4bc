"""A turn with one 1 MB image (issue 10): `python bench/image_turn.py [--database-url URL] [--rounds N]`.

In one process, through the ASGI app with an upstream that answers at once (so the wall time is
the server's own): the p50 of a text turn, of a turn carrying a 1 MB PNG, and of later text turns
in a thread that holds such an image against the same turns in a thread without one. The three
kinds are interleaved so the machine's load falls on all alike.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from BackEnd.app import create_app
from bench.databases import scratch_database
from tests.utils.api import completion, make_settings, sign_up

_IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(1024 * 1024 - 8)
_DATA_URL = "data:image/png;base64," + base64.b64encode(_IMAGE).decode("ascii")
LABELS = (
    "text turn",
    "turn with a 1 MB image",
    "next turn, thread without image",
    "next turn, thread with the image (in the memory window)",
)


def _answer(request: httpx.Request) -> httpx.Response:
    # The upstream's own work (reading a 1.4 MB request) is not the server's: a canned answer.
    return completion("an answer of a few words")


async def _measure(settings_dir: Path, database_url: str | None, rounds: int) -> dict[str, float]:
    settings = make_settings(settings_dir, database_url=database_url, chat_memory_messages=20)
    app = create_app(settings, upstream_transport=httpx.MockTransport(_answer))
    times: dict[str, list[float]] = {label: [] for label in LABELS}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            who = await sign_up(client, "bench@example.com")
            headers = {**who.headers, "Content-Type": "application/json"}

            async def turn(body: dict[str, object]) -> tuple[float, str]:
                content = json.dumps(body).encode()  # encoded before the clock starts: the client's work
                started = time.perf_counter()
                response = await client.post("/ai/chat", content=content, headers=headers)
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, response.text
                return elapsed * 1000, str(response.json()["conversation_id"])

            await turn({"message": "warm-up", "images": [_DATA_URL]})
            for _ in range(rounds):
                elapsed, plain = await turn({"message": "q" * 600})
                times[LABELS[0]].append(elapsed)
                elapsed, pictured = await turn({"message": "what is this?", "images": [_DATA_URL]})
                times[LABELS[1]].append(elapsed)
                body = {"message": "q" * 600, "conversation_id": plain}
                times[LABELS[2]].append((await turn(body))[0])
                body = {"message": "q" * 600, "conversation_id": pictured}
                times[LABELS[3]].append((await turn(body))[0])
    return {label: statistics.median(samples) for label, samples in times.items()}


def measure_image_turns(database_url: str | None, rounds: int = 40) -> list[tuple[str, float]]:
    """Each kind of turn and its p50 in ms."""
    with tempfile.TemporaryDirectory(prefix="assistantia-images-") as tmp:
        figures = asyncio.run(_measure(Path(tmp) / "BDD", database_url, rounds))
    return list(figures.items())


def main() -> int:
    parser = argparse.ArgumentParser(prog="python bench/image_turn.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", help="a PostgreSQL server (or sqlite://) to bench the SQL backend on"
    )
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, scratch_database(args.database_url, Path(tmp), 0) as url:
        for label, p50 in measure_image_turns(url, args.rounds):
            print(f"{label}: p50 {p50:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
