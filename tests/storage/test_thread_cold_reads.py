"""A cold long thread through the API: pages, turns and damage read at its ends only (record_tail.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.utils.api import Account

pytestmark = pytest.mark.parametrize("backend", ["tinydb"])  # the data folder's own files

TURNS = 6  # of two messages of about 19,000 characters: a file over the chunk and the patch size


async def _long_thread(client: httpx.AsyncClient, account: Account) -> str:
    conversation_id = ""
    for turn in range(TURNS):
        body = {"message": f"question {turn} " + "é" * 19_000}
        body |= {"conversation_id": conversation_id} if conversation_id else {}
        reply = await client.post("/ai/chat", json=body, headers=account.headers)
        assert reply.status_code == 200, reply.text
        conversation_id = reply.json()["conversation_id"]
    return conversation_id


def _cold(app: FastAPI, account: Account, conversation_id: str) -> Any:
    """The thread out of the cache as after a start-up: its summary (kept in memory) stays."""
    threads = app.state.context.database.threads
    summary, last = threads.summaries[conversation_id], threads.last_message[conversation_id]
    threads.forget(account.id, [conversation_id])
    threads.summaries[conversation_id], threads.last_message[conversation_id] = summary, last
    return threads


async def _page(client: httpx.AsyncClient, account: Account, conversation_id: str, query: str) -> Any:
    page = await client.get(f"/history/{conversation_id}?{query}", headers=account.headers)
    assert page.status_code == 200, page.text
    return page.json()


async def test_a_cold_long_thread_serves_its_ends_and_a_turn_without_reading_the_rest(
    client: httpx.AsyncClient, app: FastAPI, data_dir: Path, alice: Account
) -> None:
    conversation_id = await _long_thread(client, alice)
    whole = await _page(client, alice, conversation_id, "limit=100")
    count = 2 * TURNS
    assert whole["total"] == count

    for query, expected in [
        ("limit=2", whole["items"][:2]),
        (f"limit=3&offset={count - 3}", whole["items"][-3:]),
    ]:
        threads = _cold(app, alice, conversation_id)
        page = await _page(client, alice, conversation_id, query)
        assert page == {**page, "items": expected, "total": count}
        assert conversation_id not in threads.cached_threads()  # not read whole

    _cold(app, alice, conversation_id)
    turn = await client.post(
        "/ai/chat", json={"message": "one more", "conversation_id": conversation_id}, headers=alice.headers
    )
    assert turn.status_code == 200, turn.text
    app.state.context.database.threads.forget(alice.id, [conversation_id])  # now read whole, from disk
    after = await _page(client, alice, conversation_id, "limit=100")
    assert after["items"][:count] == whole["items"] and after["total"] == count + 2
    assert [m["content"] for m in after["items"][count:]] == ["one more", "echo: one more"]


def _not_json(line: bytes) -> bytes:
    return line.replace(b'"content": "', b'"content": #', 1)


def _unframed(line: bytes) -> bytes:
    return line.removesuffix(b",")  # no comma before the next line: the file no longer parses


@pytest.mark.parametrize("damage", [_not_json, _unframed])
async def test_a_damaged_line_is_seen_where_a_page_reads_it(
    client: httpx.AsyncClient, app: FastAPI, data_dir: Path, alice: Account, damage: Any
) -> None:
    conversation_id = await _long_thread(client, alice)
    path = data_dir / "historique" / f"{conversation_id}.json"
    lines = path.read_bytes().split(b"\n")
    middle = 1 + TURNS  # a line far from both ends: neither the first nor the last page reads it
    lines[middle] = damage(lines[middle])
    path.write_bytes(b"\n".join(lines))

    _cold(app, alice, conversation_id)
    first = await client.get(f"/history/{conversation_id}?limit=1", headers=alice.headers)
    last = await client.get(
        f"/history/{conversation_id}?limit=1&offset={2 * TURNS - 1}", headers=alice.headers
    )
    whole = await client.get(f"/history/{conversation_id}?limit=100", headers=alice.headers)

    assert [first.status_code, last.status_code, whole.status_code] == [200, 200, 503]
