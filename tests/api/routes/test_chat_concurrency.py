"""POST /ai/chat under parallel load: no blocking, no lost or interleaved turns, consistent ordering."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import anyio
import httpx
import pytest

from BackEnd.config import Settings
from tests.utils.api import Account, completion, make_settings, sign_up


@pytest.fixture
def settings(data_dir: Path, database_url: str | None) -> Settings:
    """The shared app, letting one account have 40 chats in flight: these tests load storage."""
    return make_settings(data_dir, database_url=database_url, user_concurrent_chats=40)


def last_content(request: httpx.Request) -> str:
    return json.loads(request.content)["messages"][-1]["content"]


def gate_until(count: int):
    """An upstream whose answers are all held until `count` requests are inside it at once."""
    arrivals = 0
    everyone_inside = anyio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal arrivals
        arrivals += 1
        if arrivals == count:
            everyone_inside.set()
        await everyone_inside.wait()
        return completion(f"echo: {last_content(request)}")

    return handler


async def post_chat(
    client: httpx.AsyncClient, who: Account, message: str, conversation_id: str | None = None
):
    body = (
        {"message": message}
        if conversation_id is None
        else {"message": message, "conversation_id": conversation_id}
    )
    return await client.post("/ai/chat", json=body, headers=who.headers)


async def full_history(client: httpx.AsyncClient, who: Account, conversation_id: str) -> dict:
    response = await client.get(f"/history/{conversation_id}", params={"limit": 200}, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_100_concurrent_chats_of_several_users_are_all_inside_the_model_at_once(client, upstream):
    users = [await sign_up(client, f"user{n}@example.com") for n in range(5)]
    threads = {}
    for user in users:
        seeded = await post_chat(client, user, f"seed of {user.email}")
        threads[user.email] = seeded.json()["conversation_id"]
    upstream.handler = gate_until(100)
    jobs = []
    for n in range(100):
        user = users[n % len(users)]
        # Half the turns start new threads, half continue each user's existing one.
        jobs.append((user, f"message {n}", threads[user.email] if n % 2 else None))

    with anyio.fail_after(10):  # a serialised or blocked path never lets the 100th request in
        responses = await asyncio.gather(*(post_chat(client, *job) for job in jobs))

    assert [r.status_code for r in responses] == [200] * 100, [
        r.text for r in responses if r.status_code != 200
    ]
    assert [r.json()["answer"] for r in responses] == [f"echo: message {n}" for n in range(100)]
    for user in users:
        listed = await client.get("/conversations", params={"limit": 200}, headers=user.headers)
        assert listed.json()["total"] == 1 + 10  # the seeded thread + ten new ones
        assert (await full_history(client, user, threads[user.email]))["total"] == 2 + 2 * 10


async def test_40_parallel_turns_in_one_conversation_store_80_paired_messages(client, app, upstream, alice):
    created = await client.post("/conversations", json={"title": "busy"}, headers=alice.headers)
    conversation_id = created.json()["id"]
    upstream.handler = gate_until(40)
    messages = [f"turn {n:02d}" for n in range(40)]

    with anyio.fail_after(10):
        responses = await asyncio.gather(*(post_chat(client, alice, m, conversation_id) for m in messages))

    assert [r.status_code for r in responses] == [200] * 40
    page = await full_history(client, alice, conversation_id)
    items = page["items"]
    assert page["total"] == len(items) == 80
    assert len({item["id"] for item in items}) == 80
    pairs = {(r.json()["user_message_id"], r.json()["assistant_message_id"]) for r in responses}
    for question, answer in zip(items[0::2], items[1::2], strict=True):
        assert (question["role"], answer["role"]) == ("user", "assistant")
        assert answer["content"] == f"echo: {question['content']}"
        assert (question["id"], answer["id"]) in pairs
    assert sorted(item["content"] for item in items[0::2]) == messages
    stamps = [item["created_at"] for item in items]
    assert stamps == sorted(stamps) and len(set(stamps)) == 80  # history order is time order
    thread = (await client.get(f"/conversations/{conversation_id}", headers=alice.headers)).json()
    assert thread["updated_at"] == stamps[-1]

    stored = app.state.context.database.export_dump().messages
    assert len(stored) == 80
    assert {doc["id"] for doc in stored} == {item["id"] for item in items}


async def test_parallel_turns_across_conversations_keep_the_list_ordered_by_latest_message(
    client, upstream, alice
):
    rng = random.Random(20240601)
    with anyio.fail_after(10):
        starts = await asyncio.gather(*(post_chat(client, alice, f"thread {n} opens") for n in range(6)))
    conversation_ids = [r.json()["conversation_id"] for r in starts]

    for round_number in range(4):
        # Each round: one turn in a random subset of threads, all in flight together.
        chosen = rng.sample(conversation_ids, k=rng.randint(2, len(conversation_ids)))
        upstream.handler = gate_until(len(chosen))
        with anyio.fail_after(10):
            replies = await asyncio.gather(
                *(post_chat(client, alice, f"round {round_number} in {cid}", cid) for cid in chosen)
            )
        assert [r.status_code for r in replies] == [200] * len(chosen)

    listed = (await client.get("/conversations", params={"limit": 200}, headers=alice.headers)).json()[
        "items"
    ]
    assert sorted(item["id"] for item in listed) == sorted(conversation_ids)
    stamps = [item["updated_at"] for item in listed]
    assert stamps == sorted(stamps, reverse=True)
    for item in listed:
        stored = (await full_history(client, alice, item["id"]))["items"]
        assert item["updated_at"] == stored[-1]["created_at"], item
        assert all(message["created_at"] <= item["updated_at"] for message in stored)
