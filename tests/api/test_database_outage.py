"""PostgreSQL going away while the server runs: a clear 503, nothing half-stored, recovery by itself."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from BackEnd.app import create_app
from BackEnd.storage.sql import SQLDatabase
from tests.utils.api import FakeUpstream, make_settings, sign_up
from tests.utils.sql import empty_tables
from tests.utils.tcp_proxy import tcp_proxy

OUTAGE_DETAIL = "The database is unavailable; try again shortly."


async def test_database_outage_answers_503_with_a_clear_detail_then_recovers_by_itself(
    postgres: SQLDatabase, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    empty_tables(postgres.engine)
    real = postgres.engine.url
    upstream = FakeUpstream()
    with tcp_proxy(real.host or "127.0.0.1", real.port or 5432) as proxy:
        proxied = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        app = create_app(
            make_settings(data_dir, database_url=proxied),
            upstream_transport=httpx.MockTransport(upstream.handle),
        )
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                alice = await sign_up(client, "alice@example.com")
                first = await client.post("/ai/chat", json={"message": "before"}, headers=alice.headers)
                assert first.status_code == 200, first.text
                thread = first.json()["conversation_id"]

                proxy.cut()
                caplog.set_level(logging.ERROR)
                during = [
                    await client.get("/conversations", headers=alice.headers),
                    await client.post(
                        "/ai/chat", json={"message": "lost", "conversation_id": thread}, headers=alice.headers
                    ),
                    await client.post(
                        "/auth/register", json={"email": "bob@example.com", "password": "x" * 8}
                    ),
                ]
                for response in during:
                    assert response.status_code == 503, response.text
                    assert response.json() == {"detail": OUTAGE_DETAIL}
                assert f"127.0.0.1:{proxy.port}" in caplog.text  # the administrator learns where

                proxy.restore()
                listed = await client.get("/conversations", headers=alice.headers)
                assert listed.status_code == 200, listed.text
                again = await client.post(
                    "/ai/chat", json={"message": "after", "conversation_id": thread}, headers=alice.headers
                )
                assert again.status_code == 200, again.text
                history = (await client.get(f"/history/{thread}", headers=alice.headers)).json()

    assert [m["content"] for m in history["items"]] == ["before", "echo: before", "after", "echo: after"]
