"""Issue 12's figures: the admin list among 1,000 accounts, and /ai/chat with every limit on vs off.

`python bench/classroom.py [--database-url URL] [--samples N]` serves the real app in-process
(httpx against the ASGI app, as bench/heavy_user.py does) and prints p50s in milliseconds:
`GET /users?limit=50` (plain, filtered with `q=`, and `active=false`) among 1,000 accounts holding
100,000 messages, and `POST /ai/chat` with the limits off (no chat rate, unlimited credits) and on
(CHAT_RATE_PER_MINUTE counted on every turn, credits subtracted in the turn's unit of work),
measured in alternating blocks so drift hits both alike. `bench/run.py` calls `measure_classroom`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
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
from BackEnd.storage import Dump, open_database
from tests.utils.api import make_settings

ACCOUNTS = 1_000
MESSAGES = 100_000


def _answer(request: httpx.Request) -> httpx.Response:
    content = json.loads(request.content)["messages"][-1]["content"]
    return httpx.Response(
        200,
        json={
            "id": "gen-1",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 40, "completion_tokens": 10, "total_tokens": 50},
        },
    )


def _data_set() -> tuple[Dump, str, str]:
    """ACCOUNTS accounts (the first an admin), one thread each, MESSAGES messages in all."""
    dump = Dump(users=[], conversations=[], messages=[])
    per_thread = MESSAGES // ACCOUNTS
    for index in range(ACCOUNTS):
        user_id = new_id("usr")
        dump.users.append(
            {
                "id": user_id,
                "email": f"student{index:04d}@lycee.fr",
                "name": f"Élève {index}",
                "role": "admin" if index == 0 else "user",
                "password_hash": "x",
                "created_at": utc_now(),
                "is_active": index % 10 != 3,
                "last_login_at": None,
                "credits": 10**12 if index == 2 else None,
                "token_generation": 0,
            }
        )
        thread = conversation_record(user_id, f"Exercice {index}")
        dump.conversations.append(thread)
        for turn in range(per_thread):
            role = "user" if turn % 2 == 0 else "assistant"
            dump.messages.append(message_record(user_id, thread["id"], role, "texte " * 100))  # type: ignore[arg-type]
    return dump, dump.users[0]["id"], dump.users[1]["id"]


async def _p50(call: Callable[[], Awaitable[httpx.Response]], samples: int) -> float:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        (await call()).raise_for_status()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


async def _serve(
    folder: Path,
    database_url: str | None,
    rate: int,
    body: Callable[[httpx.AsyncClient], Awaitable[list[tuple[str, float]]]],
) -> list[tuple[str, float]]:
    settings = make_settings(folder, database_url=database_url, chat_rate_per_minute=rate)
    app = create_app(settings, upstream_transport=httpx.MockTransport(_answer))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench"
        ) as client:
            return await body(client)


async def _measure(folder: Path, database_url: str | None, samples: int) -> list[tuple[str, float]]:
    dump, admin, student = _data_set()
    limited = dump.users[2]["id"]
    database = open_database(make_settings(folder, database_url=database_url))
    try:
        database.import_dump(dump)
    finally:
        database.close()
    codec = TokenCodec(make_settings(folder).jwt_secret or "", algorithm="HS256", expires_minutes=60)
    headers = {
        name: {"Authorization": f"Bearer {codec.issue(user)}"}
        for name, user in (("admin", admin), ("student", student), ("limited", limited))
    }

    async def admin_list(client: httpx.AsyncClient) -> list[tuple[str, float]]:
        pages = iter(range(10**9))

        def page() -> Awaitable[httpx.Response]:
            return client.get(f"/users?limit=50&offset={50 * (next(pages) % 20)}", headers=headers["admin"])

        def search() -> Awaitable[httpx.Response]:
            return client.get("/users?limit=50&q=ve 12", headers=headers["admin"])

        def inactive() -> Awaitable[httpx.Response]:
            return client.get("/users?limit=50&active=false", headers=headers["admin"])

        return [
            (
                f"GET /users?limit=50 among {ACCOUNTS:,} accounts, {MESSAGES:,} messages",
                await _p50(page, samples),
            ),
            ("GET /users?limit=50&q=…", await _p50(search, samples)),
            ("GET /users?limit=50&active=false", await _p50(inactive, samples)),
        ]

    async def chats(client: httpx.AsyncClient) -> list[tuple[str, float]]:
        return await _chat_modes(client, headers, samples)

    return await _serve(folder, database_url, 0, admin_list) + await _serve(folder, database_url, 0, chats)


# (label, CHAT_RATE_PER_MINUTE, account): the limited account has credits, the student none.
_MODES = (
    ("limits off (no chat rate, unlimited credits)", 0, "student"),
    ("limits on (chat rate counted, credits charged)", 10**6, "limited"),
    ("chat rate on, unlimited credits", 10**6, "student"),
)


async def _chat_modes(
    client: httpx.AsyncClient, headers: dict[str, dict[str, str]], samples: int
) -> list[tuple[str, float]]:
    """POST /ai/chat in each mode, interleaved request by request so the machine's noise hits all alike."""
    app = client._transport.app  # type: ignore[attr-defined]
    context = app.state.context
    times: dict[str, list[float]] = {label: [] for label, _, _ in _MODES}
    for index in range(samples + 10):
        for label, rate, who in _MODES:
            app.state.context = dataclasses.replace(
                context, settings=context.settings.model_copy(update={"chat_rate_per_minute": rate})
            )
            started = time.perf_counter()
            (
                await client.post("/ai/chat", json={"message": "Bonjour"}, headers=headers[who])
            ).raise_for_status()
            if index >= 10:  # the first ones warm up
                times[label].append((time.perf_counter() - started) * 1000)
    app.state.context = context
    off = statistics.median(times[_MODES[0][0]])
    return [
        (
            f"POST /ai/chat, {label}"
            + (f" [{statistics.median(t) / off:.2f}× off]" if label != _MODES[0][0] else ""),
            statistics.median(t),
        )
        for label, t in times.items()
    ]


def measure_classroom(database_url: str | None = None, samples: int = 200) -> list[tuple[str, float]]:
    """The figures as (label, p50 ms), on a fresh TinyDB folder or the empty SQL database given."""
    with tempfile.TemporaryDirectory(prefix="assistantia-classroom-") as tmp:
        return asyncio.run(_measure(Path(tmp) / "BDD", database_url, samples))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python bench/classroom.py", description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument(
        "--database-url", default=None, help="an empty SQL database to fill (default: TinyDB)"
    )
    args = parser.parse_args()
    for label, p50 in measure_classroom(args.database_url, args.samples):
        print(f"{p50:8.2f} ms  {label}")


if __name__ == "__main__":
    main()
