"""POST /ai/chat: threads, the upstream request, the memory window, validation and ownership."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from BackEnd.app import create_app
from tests.utils.api import TEST_API_KEY, Account, FakeUpstream, make_settings, sign_up

UNKNOWN_ID = "conv_" + "0" * 32


@asynccontextmanager
async def running(
    data_dir: Path, upstream: FakeUpstream, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A client on an app built with these settings overrides."""
    app = create_app(
        make_settings(data_dir, **overrides), upstream_transport=httpx.MockTransport(upstream.handle)
    )
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http:
            yield http


async def chat(
    http: httpx.AsyncClient, who: Account, message: str, conversation_id: str | None = None
) -> dict:
    body: dict[str, Any] = {"message": message}
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    response = await http.post("/ai/chat", json=body, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def history(http: httpx.AsyncClient, who: Account, conversation_id: str) -> list[dict]:
    response = await http.get(f"/history/{conversation_id}", params={"limit": 200}, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def conversations(http: httpx.AsyncClient, who: Account) -> list[dict]:
    response = await http.get("/conversations", params={"limit": 200}, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_chat_without_conversation_id_starts_a_thread_titled_from_the_message(client, upstream, alice):
    reply = await chat(client, alice, "Explain photosynthesis simply")

    assert set(reply) == {
        *("answer", "conversation_id", "user_message_id", "assistant_message_id"),
        *("model", "finish_reason", "usage", "answers"),
    }
    assert [answer["assistant_message_id"] for answer in reply["answers"]] == [reply["assistant_message_id"]]
    assert reply["answer"] == "echo: Explain photosynthesis simply"
    assert reply["conversation_id"].startswith("conv_")
    threads = await conversations(client, alice)
    assert [(t["id"], t["title"]) for t in threads] == [
        (reply["conversation_id"], "Explain photosynthesis simply")
    ]
    stored = await history(client, alice, reply["conversation_id"])
    assert [(m["id"], m["role"], m["content"]) for m in stored] == [
        (reply["user_message_id"], "user", "Explain photosynthesis simply"),
        (reply["assistant_message_id"], "assistant", "echo: Explain photosynthesis simply"),
    ]


async def test_chat_with_conversation_id_appends_to_that_thread(client, alice):
    first = await chat(client, alice, "first question")
    second = await chat(client, alice, "second question", first["conversation_id"])

    assert second["conversation_id"] == first["conversation_id"]
    assert len(await conversations(client, alice)) == 1
    stored = await history(client, alice, first["conversation_id"])
    assert [m["content"] for m in stored] == [
        "first question",
        "echo: first question",
        "second question",
        "echo: second question",
    ]
    assert [m["id"] for m in stored[2:]] == [second["user_message_id"], second["assistant_message_id"]]


async def test_upstream_request_has_model_key_attribution_headers_and_openrouter_url(
    client, upstream, settings, alice
):
    await chat(client, alice, "hello")

    [request] = upstream.requests
    assert request.method == "POST"
    assert str(request.url) == "https://openrouter.ai/api/v1/chat/completions"
    assert request.headers["Authorization"] == f"Bearer {TEST_API_KEY}"
    assert request.headers["HTTP-Referer"] == "http://localhost:3000"
    assert request.headers["X-Title"] == "AssistantIA"
    [body] = upstream.bodies
    assert body["model"] == "openrouter/auto"
    assert body["messages"] == [
        {"role": "system", "content": settings.system_prompt},
        {"role": "user", "content": "hello"},
    ]


async def test_memory_window_sends_prompt_last_three_messages_and_new_one_of_this_thread_only(data_dir):
    upstream = FakeUpstream()
    prompt = "SYSTEM PROMPT UNDER TEST"
    async with running(data_dir, upstream, chat_memory_messages=4, system_prompt=prompt) as http:
        alice = await sign_up(http, "alice@example.com")
        bob = await sign_up(http, "bob@example.com")
        await chat(http, bob, "bob-secret-thread")
        other = await chat(http, alice, "alice-other-thread")
        await chat(http, alice, "alice-other-thread-again", other["conversation_id"])
        upstream.requests.clear()

        conversation_id = None
        for n in range(1, 6):
            reply = await chat(http, alice, f"main-{n}", conversation_id)
            conversation_id = reply["conversation_id"]
            # Unrelated activity between turns must never leak into this thread's context.
            await chat(http, alice, f"alice-other-{n}", other["conversation_id"])
            await chat(http, bob, f"bob-secret-{n}")

    main_bodies = [body for body in upstream.bodies if body["messages"][-1]["content"].startswith("main-")]
    assert len(main_bodies) == 5
    system = {"role": "system", "content": prompt}
    assert main_bodies[0]["messages"] == [system, {"role": "user", "content": "main-1"}]
    assert main_bodies[-1]["messages"] == [
        system,
        {"role": "assistant", "content": "echo: main-3"},
        {"role": "user", "content": "main-4"},
        {"role": "assistant", "content": "echo: main-4"},
        {"role": "user", "content": "main-5"},
    ]
    for body in main_bodies:
        assert len(body["messages"]) <= 5
        for message in body["messages"][1:]:
            assert "other" not in message["content"] and "bob" not in message["content"], body


async def test_message_of_exactly_20000_characters_is_accepted(client, upstream, alice):
    message = "x" * 20_000
    reply = await chat(client, alice, message)

    assert upstream.bodies[0]["messages"][-1]["content"] == message
    assert (await history(client, alice, reply["conversation_id"]))[0]["content"] == message


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"message": "x" * 20_001}, id="20001-chars"),
        pytest.param({"message": "   \n\t  "}, id="blank"),
        pytest.param({"message": ""}, id="empty"),
        pytest.param({"message": None}, id="null"),
        pytest.param({}, id="missing"),
        pytest.param({"message": "a NUL \u0000 PostgreSQL cannot store"}, id="nul-character"),
    ],
)
async def test_invalid_message_is_422_and_never_reaches_the_model(client, upstream, alice, body):
    response = await client.post("/ai/chat", json=body, headers=alice.headers)

    assert response.status_code == 422, response.text
    assert upstream.requests == []
    assert await conversations(client, alice) == []


async def test_other_users_conversation_is_404_like_unknown_id_without_any_upstream_call(
    client, upstream, alice, bob
):
    mine = await chat(client, alice, "alice private question")
    thread_before = (
        await client.get(f"/conversations/{mine['conversation_id']}", headers=alice.headers)
    ).json()
    history_before = await history(client, alice, mine["conversation_id"])
    calls_before = len(upstream.requests)

    stolen = await client.post(
        "/ai/chat",
        json={"message": "let me in", "conversation_id": mine["conversation_id"]},
        headers=bob.headers,
    )
    unknown = await client.post(
        "/ai/chat", json={"message": "hi", "conversation_id": UNKNOWN_ID}, headers=bob.headers
    )

    assert stolen.status_code == unknown.status_code == 404
    assert stolen.json() == unknown.json()
    assert "alice" not in stolen.text
    assert len(upstream.requests) == calls_before
    assert await history(client, alice, mine["conversation_id"]) == history_before
    after = await client.get(f"/conversations/{mine['conversation_id']}", headers=alice.headers)
    assert after.json() == thread_before
    assert await conversations(client, bob) == []


@pytest.mark.parametrize("conversation_id", [UNKNOWN_ID, "../users", "conv_../../users"])
async def test_unknown_conversation_id_is_404_without_upstream_call(client, upstream, alice, conversation_id):
    response = await client.post(
        "/ai/chat", json={"message": "hello", "conversation_id": conversation_id}, headers=alice.headers
    )

    assert response.status_code == 404, response.text
    assert response.json()["detail"]
    assert upstream.requests == []
    assert await conversations(client, alice) == []


async def test_without_api_key_chat_is_503_naming_the_setting_and_stores_nothing(data_dir):
    upstream = FakeUpstream()
    async with running(data_dir, upstream, openrouter_api_key=None) as http:
        alice = await sign_up(http, "alice@example.com")
        fresh = await http.post("/ai/chat", json={"message": "hello"}, headers=alice.headers)
        empty = (await http.post("/conversations", json={"title": "kept"}, headers=alice.headers)).json()
        existing = await http.post(
            "/ai/chat", json={"message": "hello", "conversation_id": empty["id"]}, headers=alice.headers
        )
        threads = await conversations(http, alice)
        stored = await history(http, alice, empty["id"])

    for response in (fresh, existing):
        assert response.status_code == 503, response.text
        assert "OPENROUTER_API_KEY" in response.json()["detail"]
    assert upstream.requests == []
    assert threads == [empty]
    assert stored == []
    assert list((data_dir / "historique").iterdir()) == []
