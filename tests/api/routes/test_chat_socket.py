"""GET /ai/ws: sign-in by first message, chats and stops with their request ids, errors, origins."""

from __future__ import annotations

import json
import time
from pathlib import Path

import anyio
import httpx
import pytest
from fastapi import FastAPI

from BackEnd.app import create_app
from tests.api.routes.test_chat import UNKNOWN_ID, conversations, history
from tests.utils.api import Account, make_settings
from tests.utils.sockets import TestSocket, socket
from tests.utils.streams import StreamScript, eventually
from tests.utils.tokens import expired, signed


async def signed_in(ws: TestSocket, who: Account) -> None:
    await ws.send({"type": "auth", "token": who.token})
    assert await ws.receive() == {"type": "ready", "user_id": who.id}


async def test_a_chat_streams_its_events_with_the_request_id_and_stores_the_turn(
    app, client, upstream, alice
):
    upstream.handler = StreamScript(parts=["Bon", "jour"]).response
    async with socket(app) as ws:
        await signed_in(ws, alice)
        await ws.send({"type": "chat", "request_id": "r1", "message": "Salut"})
        events = await ws.until("done")

    assert [e["type"] for e in events] == ["start", "delta", "delta", "done"]
    assert {e["request_id"] for e in events} == {"r1"}
    start, done = events[0], events[-1]
    assert done["finish_reason"] == "stop" and done["assistant_message_id"] == start["assistant_message_id"]
    stored = await history(client, alice, start["conversation_id"])
    assert [m["content"] for m in stored] == ["Salut", "Bonjour"]
    assert stored[1]["id"] == start["assistant_message_id"]


async def test_several_chats_run_at_once_on_one_socket(app, client, upstream, alice):
    scripts = {"a": StreamScript(parts=["A1", "A2"], hold_after=1), "b": StreamScript(parts=["B1", "B2"])}
    upstream.handler = lambda request: scripts[
        json.loads(request.content)["messages"][-1]["content"]
    ].response(request)
    async with socket(app) as ws:
        await signed_in(ws, alice)
        await ws.send({"type": "chat", "request_id": 1, "message": "a"})
        await eventually(scripts["a"].held.is_set)
        await ws.send({"type": "chat", "request_id": 2, "message": "b"})
        second = await ws.until("done", request_id=2)  # b ends while a is still held
        scripts["a"].release.set()
        first = await ws.until("done", request_id=1)

    by_request = {
        1: [e for e in second + first if e["request_id"] == 1],
        2: [e for e in second + first if e["request_id"] == 2],
    }
    for request_id, text in ((1, "A1A2"), (2, "B1B2")):
        events = by_request[request_id]
        assert "".join(e["content"] for e in events if e["type"] == "delta") == text
        assert [m["content"] for m in await history(client, alice, events[0]["conversation_id"])][1] == text


async def test_invalid_messages_answer_422_and_keep_the_socket_open(app, upstream, alice):
    async with socket(app) as ws:
        await signed_in(ws, alice)
        await ws.send({"type": "chat", "request_id": "x", "message": "   "})
        blank = await ws.receive()
        await ws.send_text("not json")
        garbage = await ws.receive()
        await ws.send({"type": "dance", "request_id": 7})
        unknown = await ws.receive()
        await ws.send(
            {"type": "chat", "request_id": "y", "message": "still here", "conversation_id": UNKNOWN_ID}
        )
        missing = await ws.receive()
        await ws.send({"type": "chat", "request_id": "z", "message": "fine"})
        events = await ws.until("done")

    assert (blank["type"], blank["request_id"], blank["status"]) == ("error", "x", 422)
    assert (garbage["status"], garbage["request_id"]) == (422, None)
    assert (unknown["status"], unknown["request_id"]) == (422, 7)
    assert missing == {"type": "error", "request_id": "y", "status": 404, "detail": "Conversation not found."}
    assert events[-1]["request_id"] == "z"


async def test_stop_over_the_socket_ends_the_chat_with_stopped(app, client, upstream, alice):
    script = StreamScript(parts=["Half", " never"], hold_after=1)
    upstream.handler = script.response
    async with socket(app) as ws:
        await signed_in(ws, alice)
        await ws.send({"type": "chat", "request_id": "long", "message": "go on"})
        start = await ws.receive()
        await eventually(script.held.is_set)
        await ws.send({"type": "stop", "conversation_id": start["conversation_id"]})
        events = await ws.until("done")
        await ws.send({"type": "stop", "request_id": "s", "conversation_id": UNKNOWN_ID})
        unknown = await ws.receive()

    assert events[-1]["finish_reason"] == "stopped"
    assert [m["content"] for m in await history(client, alice, start["conversation_id"])] == ["go on", "Half"]
    assert (unknown["status"], unknown["request_id"]) == (404, "s")


async def test_a_socket_closed_midway_still_gets_its_turn_stored(app, client, upstream, alice):
    script = StreamScript(parts=["All ", "of it"], hold_after=1)
    upstream.handler = script.response
    async with socket(app) as ws:
        await signed_in(ws, alice)
        await ws.send({"type": "chat", "message": "bye"})
        await eventually(script.held.is_set)
    assert await conversations(client, alice) == []
    script.release.set()

    async def stored() -> list[dict]:
        found = await conversations(client, alice)
        return found and await history(client, alice, found[0]["id"])

    await eventually(stored)
    assert [m["content"] for m in await stored()] == ["bye", "All of it"]


@pytest.mark.parametrize(
    "first",
    [{"type": "auth", "token": "nope"}, {"type": "chat", "message": "hi"}, "not json", {"type": "auth"}],
)
async def test_a_socket_without_a_valid_first_sign_in_is_closed_1008(app, alice, first):
    async with socket(app) as ws:
        if isinstance(first, str):
            await ws.send_text(first)
        else:
            await ws.send(first)
        assert await ws.closed_with() == 1008


async def test_an_expired_token_at_sign_in_is_refused(app, alice):
    async with socket(app) as ws:
        await ws.send({"type": "auth", "token": expired(alice.id)})
        assert await ws.closed_with() == 1008


@pytest.mark.parametrize("backend", ["tinydb"])
async def test_a_socket_that_never_signs_in_is_closed_1008(tmp_path: Path, upstream, backend):
    application = create_app(
        make_settings(tmp_path / "BDD", ws_auth_timeout_seconds=0.05),
        upstream_transport=httpx.MockTransport(upstream.handle),
    )
    async with application.router.lifespan_context(application), socket(application) as ws:
        assert await ws.closed_with() == 1008


async def test_a_deleted_account_closes_the_socket_4401_at_its_next_message(app, client, alice):
    async with socket(app) as ws:
        await signed_in(ws, alice)
        assert (await client.delete("/users/me", headers=alice.headers)).status_code == 204
        await ws.send({"type": "chat", "message": "anyone?"})
        assert await ws.closed_with() == 4401


@pytest.mark.parametrize("backend", ["tinydb"])
async def test_a_token_that_expires_closes_the_socket_4401_at_its_next_message(app, upstream, alice, backend):
    now = int(time.time())
    async with socket(app) as ws:
        await ws.send({"type": "auth", "token": signed({"sub": alice.id, "iat": now, "exp": now + 1})})
        assert (await ws.receive())["type"] == "ready"
        await anyio.sleep(max(now + 2 - time.time(), 0))  # the token's own lifetime: not a speed check
        await ws.send({"type": "chat", "message": "late"})
        assert await ws.closed_with() == 4401
    assert upstream.requests == []


@pytest.mark.parametrize(
    ("origin", "accepted"), [(None, True), ("http://localhost:5173", True), ("https://evil.example", False)]
)
async def test_the_origin_is_checked_against_cors_origins(app: FastAPI, alice, origin, accepted):
    async with socket(app, origin=origin) as ws:
        if accepted:
            await signed_in(ws, alice)
        else:
            assert await ws.closed_with() == 1008
        assert ws.accepted is accepted


async def test_a_full_account_is_refused_on_the_socket_as_on_http(app, client, upstream, alice, monkeypatch):
    scripts = [StreamScript(hold_after=0) for _ in range(5)]
    handed = iter(scripts)
    upstream.handler = lambda request: next(handed).response(request)
    async with socket(app) as ws:
        await signed_in(ws, alice)
        for n in range(4):  # USER_CONCURRENT_CHATS
            await ws.send({"type": "chat", "request_id": n, "message": f"q{n}"})
            await ws.until("start", request_id=n)
        await ws.send({"type": "chat", "request_id": "over", "message": "one more"})
        refused = await ws.until("error", request_id="over")
        for script in scripts:
            script.release.set()
    assert refused[-1]["status"] == 429
