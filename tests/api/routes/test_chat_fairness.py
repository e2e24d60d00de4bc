"""POST /ai/chat shares the upstream: an account gets USER_CONCURRENT_CHATS calls, the rest a 429.

The model is a real HTTP server on 127.0.0.1 that holds its answers until the test releases
them, reached through the app's real connection pools: what one account holds there is what
another account would have to wait behind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from fastapi import FastAPI

from BackEnd.app import create_app
from BackEnd.upstream_http import PoolSet
from tests.utils.api import Account, make_settings
from tests.utils.fake_upstream import FakeChatServer, fake_chat_server

SLOTS = 4  # USER_CONCURRENT_CHATS
EXTRA = 20  # chats sent on top of those, all at once


@pytest.fixture
def model_server() -> Iterator[FakeChatServer]:
    with fake_chat_server() as server:
        yield server


@pytest.fixture(params=["default-pools", "one-spare-connection"])
def pools(request: pytest.FixtureRequest) -> PoolSet | None:
    """The production pools, or pools with room for one account's calls and one more call only."""
    if request.param == "default-pools":
        return None
    return PoolSet(pools=1, connections_per_pool=SLOTS + 1, keep_alive_per_pool=SLOTS + 1)


@pytest.fixture
async def app(
    data_dir: Path, database_url: str | None, model_server: FakeChatServer, pools: PoolSet | None
) -> AsyncIterator[FastAPI]:
    settings = make_settings(
        data_dir,
        database_url=database_url,
        openrouter_base_url=model_server.base_url,
        user_concurrent_chats=SLOTS,
    )
    application = create_app(settings, upstream_transport=pools)
    async with application.router.lifespan_context(application):
        yield application


async def post(client: httpx.AsyncClient, who: Account, message: str) -> httpx.Response:
    return await client.post("/ai/chat", json={"message": message}, headers=who.headers)


async def calls_arrived(server: FakeChatServer, count: int, *, held: int = 0) -> None:
    await anyio.to_thread.run_sync(lambda: server.wait_for_calls(count, held=held))


async def conversation_titles(client: httpx.AsyncClient, who: Account) -> list[str]:
    listed = await client.get("/conversations", params={"limit": 200}, headers=who.headers)
    return sorted(item["title"] for item in listed.json()["items"])


async def assert_every_slot_is_free(client: httpx.AsyncClient, who: Account) -> None:
    """SLOTS chats of `who` at once are all answered (the model answers at once by now)."""
    replies: list[httpx.Response] = []

    async def one(n: int) -> None:
        replies.append(await post(client, who, f"again {n}"))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            for n in range(SLOTS):
                group.start_soon(one, n)
    assert [reply.status_code for reply in replies] == [200] * SLOTS, [reply.text for reply in replies]


async def test_one_account_gets_its_slots_the_rest_429_at_once_and_another_account_is_served(
    client, model_server, alice, bob
):
    results: dict[str, httpx.Response] = {}
    extra_answered = anyio.Event()

    async def chat(message: str) -> None:
        results[message] = await post(client, alice, message)
        if len(results) == EXTRA:
            extra_answered.set()

    async with anyio.create_task_group() as group:
        for n in range(SLOTS + EXTRA):
            group.start_soon(chat, f"hold {n:02d}")
        # A bound, not a measure: a chat queued behind the held ones would never come back.
        with anyio.fail_after(10):
            await calls_arrived(model_server, SLOTS, held=SLOTS)
            await extra_answered.wait()

        rejected = list(results.values())
        assert [reply.status_code for reply in rejected] == [429] * EXTRA, [r.text for r in rejected]
        for reply in rejected:
            assert int(reply.headers["Retry-After"]) >= 1
            assert f"{SLOTS} messages" in reply.json()["detail"]
        assert model_server.calls == SLOTS  # the rejected ones never reached the model

        with anyio.fail_after(10):
            other = await post(client, bob, "meanwhile, from bob")
        assert other.status_code == 200, other.text
        assert other.json()["answer"] == "echo: meanwhile, from bob"
        assert await conversation_titles(client, alice) == []  # nothing stored before an answer
        model_server.release()

    answered = sorted(message for message, reply in results.items() if reply.status_code == 200)
    assert len(answered) == SLOTS and len(results) == SLOTS + EXTRA
    assert await conversation_titles(client, alice) == answered  # nothing stored for the 429s
    assert model_server.calls == SLOTS + 1
    await assert_every_slot_is_free(client, alice)


@pytest.mark.parametrize("pools", ["default-pools"], indirect=True)
async def test_slots_come_back_after_upstream_failures(client, model_server, alice):
    with anyio.fail_after(10):
        failed = [await post(client, alice, f"fail {n}") for n in range(SLOTS + 1)]

    assert [reply.status_code for reply in failed] == [502] * (SLOTS + 1)
    await assert_every_slot_is_free(client, alice)


@pytest.mark.parametrize("pools", ["default-pools"], indirect=True)
async def test_slots_come_back_when_the_callers_go_away(client, model_server, alice):
    with anyio.CancelScope() as gone:
        async with anyio.create_task_group() as group:
            for n in range(SLOTS):
                group.start_soon(post, client, alice, f"hold {n}")
            with anyio.fail_after(10):
                await calls_arrived(model_server, SLOTS, held=SLOTS)
            gone.cancel()  # the requests are abandoned while the model still thinks
    model_server.release()

    await assert_every_slot_is_free(client, alice)
    assert await conversation_titles(client, alice) == [f"again {n}" for n in range(SLOTS)]
