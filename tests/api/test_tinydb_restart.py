"""Through the API: a TinyDB server restarted on its folder answers lists, stats and usage without its history files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from BackEnd.app import create_app
from BackEnd.config import Settings
from tests.utils.api import Account, FakeUpstream, sign_up
from tests.utils.records import as_layout_1, damage_keeping_stamp, set_role

DAYS = {"from": "2000-01-01", "to": "2999-12-31"}


@asynccontextmanager
async def served(settings: Settings, upstream: FakeUpstream) -> AsyncIterator[httpx.AsyncClient]:
    """One server's life on the folder: start-up, requests, shutdown (which releases the folder)."""
    application = create_app(settings, upstream_transport=httpx.MockTransport(upstream.handle))
    async with application.router.lifespan_context(application):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://testserver"
        ) as client:
            client.app = application  # type: ignore[attr-defined]
            yield client


async def seen(client: httpx.AsyncClient, student: Account, teacher: Account) -> list[object]:
    """What start-up used to rebuild from every message: the list, stats, usage, admin views."""
    paths = [
        ("/conversations", student),
        ("/auth/me/stats", student),
        ("/auth/me/usage", student),
        ("/users", teacher),
        ("/users/usage", teacher),
    ]
    answers = []
    for path, who in paths:
        response = await client.get(path, params=DAYS if "usage" in path else None, headers=who.headers)
        assert response.status_code == 200, (path, response.text)
        answers.append(response.json())
    return answers


@pytest.mark.parametrize("backend", ["tinydb"])
async def test_restart_serves_the_same_figures_without_reading_history_and_after_conversion(
    settings: Settings, upstream: FakeUpstream, data_dir: Path
) -> None:
    async with served(settings, upstream) as client:
        student = await sign_up(client, "student@example.com")
        teacher = await sign_up(client, "teacher@example.com")
        assert set_role(client.app.state.context.database, teacher.email, "admin") is not None  # type: ignore[attr-defined]
        first = await client.post("/ai/chat", json={"message": "bonjour"}, headers=student.headers)
        thread = first.json()["conversation_id"]
        await client.post(
            "/ai/chat", json={"message": "encore", "conversation_id": thread}, headers=student.headers
        )
        gone = await client.post("/ai/chat", json={"message": "oublie"}, headers=student.headers)
        deleted = await client.delete(
            f"/conversations/{gone.json()['conversation_id']}", headers=student.headers
        )
        assert deleted.status_code in (200, 204)
        before = await seen(client, student, teacher)
    assert before[0]["items"][0]["message_count"] == 4

    for path in (data_dir / "historique").glob("*.json"):  # any read of one would stop start-up
        damage_keeping_stamp(path)  # the stored summaries' stamps still match: nothing is rebuilt
    async with served(settings, upstream) as client:
        assert await seen(client, student, teacher) == before


@pytest.mark.parametrize("backend", ["tinydb"])
async def test_a_folder_of_the_older_layout_is_converted_at_start_up_to_the_same_figures(
    settings: Settings, upstream: FakeUpstream, data_dir: Path
) -> None:
    async with served(settings, upstream) as client:
        student = await sign_up(client, "student@example.com")
        teacher = await sign_up(client, "teacher@example.com")
        assert set_role(client.app.state.context.database, teacher.email, "admin") is not None  # type: ignore[attr-defined]
        first = await client.post("/ai/chat", json={"message": "bonjour"}, headers=student.headers)
        thread = first.json()["conversation_id"]
        await client.post(
            "/ai/chat", json={"message": "encore", "conversation_id": thread}, headers=student.headers
        )
        before = await seen(client, student, teacher)
    as_layout_1(data_dir)

    async with served(settings, upstream) as client:
        assert await seen(client, student, teacher) == before
    assert (data_dir / "layout.json").exists()
