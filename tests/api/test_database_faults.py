"""A database that is locked by someone else or refuses a statement: 503 in bounded time, then service again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from BackEnd.app import create_app
from tests.utils.api import Account, FakeUpstream, make_settings, sign_up
from tests.utils.locks import LockHolder, sqlite_write_lock, write_lock

OUTAGE_DETAIL = "The database is unavailable; try again shortly."
STORAGE_DETAIL = "The server cannot read or save data right now; the administrator must check the server log."
CONCURRENT_REQUESTS = 30


@asynccontextmanager
async def _client_with_short_waits(data_dir: Path, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(
        data_dir,
        database_url=database_url,
        database_statement_timeout_seconds=1,
        database_lock_timeout_seconds=1,
    )
    upstream = FakeUpstream()
    app = create_app(settings, upstream_transport=httpx.MockTransport(upstream.handle))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def _assert_outage(responses: list[httpx.Response]) -> None:
    for response in responses:
        assert response.status_code == 503, response.text
        assert response.json() == {"detail": OUTAGE_DETAIL}


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_locked_users_table_answers_503_before_the_lock_is_released_then_200(
    data_dir: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with _client_with_short_waits(data_dir, database_url) as client:
        alice = await sign_up(client, "alice@example.com")
        caplog.set_level(logging.ERROR)

        with LockHolder(write_lock(database_url)).hold() as holder:
            during = await asyncio.gather(
                *(client.get("/auth/me", headers=alice.headers) for _ in range(CONCURRENT_REQUESTS))
            )
        after = await client.get("/auth/me", headers=alice.headers)

    assert not holder.released_by_fail_safe, "the requests waited for the lock instead of giving up"
    _assert_outage(list(during))
    assert "timeout" in caplog.text  # the administrator learns why: PostgreSQL's lock or statement timeout
    assert after.status_code == 200, after.text
    assert after.json()["email"] == "alice@example.com"


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_sqlite_write_lock_held_elsewhere_makes_writes_answer_503_while_reads_still_work(
    data_dir: Path, database_url: str
) -> None:
    async with _client_with_short_waits(data_dir, database_url) as client:
        alice = await sign_up(client, "alice@example.com")
        thread = await client.post("/conversations", json={"title": "kept"}, headers=alice.headers)
        assert thread.status_code == 201, thread.text
        thread_id = thread.json()["id"]

        with LockHolder(sqlite_write_lock(database_url)).hold() as holder:
            writes: list[Any] = await asyncio.gather(
                client.post("/conversations", json={"title": "new"}, headers=alice.headers),
                client.patch(f"/conversations/{thread_id}", json={"title": "renamed"}, headers=alice.headers),
                client.post("/auth/register", json={"email": "bob@example.com", "password": "x" * 8}),
                client.post(
                    "/ai/chat", json={"message": "hi", "conversation_id": thread_id}, headers=alice.headers
                ),
            )
            reads: list[Any] = await asyncio.gather(
                client.get("/auth/me", headers=alice.headers),
                client.get("/conversations", headers=alice.headers),
                client.get(f"/history/{thread_id}", headers=alice.headers),
            )
        after = await client.patch(
            f"/conversations/{thread_id}", json={"title": "renamed"}, headers=alice.headers
        )
        listed = await client.get("/conversations", headers=alice.headers)

    assert not holder.released_by_fail_safe, "the writes waited for the lock instead of giving up"
    _assert_outage(writes)
    for response in reads:
        assert response.status_code == 200, response.text
    assert after.status_code == 200, after.text
    assert [c["title"] for c in listed.json()["items"]] == ["renamed"]  # nothing of the refused writes stayed


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_statement_the_database_refuses_answers_503_with_the_cause_in_the_log(
    client: httpx.AsyncClient, alice: Account, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # As after a hand-made schema change: the table the request needs is not there.
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE users RENAME TO users_moved_away"))
        caplog.set_level(logging.ERROR)

        during = await client.get("/auth/me", headers=alice.headers)
    finally:
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE users_moved_away RENAME TO users"))
        engine.dispose()
    after = await client.get("/auth/me", headers=alice.headers)

    assert during.status_code == 503, during.text
    # SQLite's driver calls a missing table an operational error, PostgreSQL's a programming one.
    assert during.json()["detail"] in (OUTAGE_DETAIL, STORAGE_DETAIL)
    assert "users" in caplog.text
    assert after.status_code == 200, after.text
