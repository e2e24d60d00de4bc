"""POST /ai/chat/stream: the event protocol, and what is stored in each way a stream can end."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import httpx
import pytest

from tests.api.routes.test_chat import UNKNOWN_ID, chat, conversations, history, running
from tests.utils.api import Account
from tests.utils.streams import USAGE, RawCall, StreamScript, eventually, sse_events


async def stream(http: httpx.AsyncClient, who: Account, message: str, conversation_id: str | None = None):
    body: dict = {"message": message}
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    response = await http.post("/ai/chat/stream", json=body, headers=who.headers)
    return response


async def test_a_stream_sends_start_deltas_and_done_and_stores_exactly_the_deltas(client, upstream, alice):
    script = StreamScript(parts=["Photo", "synthesis ", "uses ", "light."])
    upstream.handler = script.response

    response = await stream(client, alice, "Explain photosynthesis")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    kinds = [kind for kind, _ in events]
    assert kinds == ["start", "delta", "delta", "delta", "delta", "done"]  # comments, empty chunks skipped
    start, done = events[0][1], events[-1][1]
    assert set(start) == {"conversation_id", "user_message_id", "assistant_message_id", "model"}
    assert start["model"] == "openrouter/auto"
    assert done == {
        "assistant_message_id": start["assistant_message_id"],
        "model": "vendor/answering-model",
        "finish_reason": "stop",
        "usage": USAGE,
    }
    answer = "".join(data["content"] for kind, data in events if kind == "delta")
    stored = await history(client, alice, start["conversation_id"])
    assert [(m["id"], m["role"], m["content"]) for m in stored] == [
        (start["user_message_id"], "user", "Explain photosynthesis"),
        (start["assistant_message_id"], "assistant", answer),
    ]
    assert answer == "Photosynthesis uses light."
    sent = upstream.bodies[0]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


async def test_a_stream_continues_a_thread_with_its_memory(client, upstream, alice):
    first = await chat(client, alice, "First question")
    upstream.handler = StreamScript().response

    response = await stream(client, alice, "Second question", first["conversation_id"])

    assert sse_events(response.text)[-1][0] == "done"
    assert [m["content"] for m in upstream.bodies[-1]["messages"][1:]] == [
        "First question",
        "echo: First question",
        "Second question",
    ]
    assert len(await history(client, alice, first["conversation_id"])) == 4


@pytest.mark.parametrize(
    ("body", "status"),
    [({"message": "hi", "conversation_id": UNKNOWN_ID}, 404), ({"message": "   "}, 422), ({}, 422)],
)
async def test_what_fails_before_the_model_is_asked_answers_plain_json(client, upstream, alice, body, status):
    response = await client.post("/ai/chat/stream", json=body, headers=alice.headers)

    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert upstream.requests == []


async def test_a_foreign_thread_is_404_and_no_token_is_401(client, upstream, alice, bob):
    mine = await chat(client, alice, "mine")
    foreign = await stream(client, bob, "hijack", mine["conversation_id"])
    anonymous = await client.post("/ai/chat/stream", json={"message": "hi"})

    assert (foreign.status_code, anonymous.status_code) == (404, 401)
    assert len(upstream.requests) == 1


async def test_no_api_key_is_a_plain_503(tmp_path: Path, upstream, alice_factory=None):
    async with running(tmp_path / "BDD", upstream, openrouter_api_key="") as http:
        await http.post("/auth/register", json={"email": "a@example.com", "password": "correct horse"})
        login = await http.post("/auth/login", json={"email": "a@example.com", "password": "correct horse"})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        response = await http.post("/ai/chat/stream", json={"message": "hi"}, headers=headers)

    assert response.status_code == 503
    assert "OPENROUTER_API_KEY" in response.json()["detail"]


@pytest.mark.parametrize(
    ("script", "status"),
    [
        (dict(fail="error"), 502),  # an error object inside a 200 stream
        (dict(fail="drop"), 502),  # the connection dropped
        (dict(fail="cut"), 502),  # the stream ended without its end
        (dict(status=429), 429),
        (dict(status=500), 502),
        (dict(status=408), 504),
        (dict(parts=["", " "], fail=None), 502),  # nothing written: an empty answer
    ],
)
async def test_an_upstream_failure_ends_with_error_and_stores_nothing(
    client, upstream, alice, script, status
):
    first = await chat(client, alice, "kept")
    upstream.handler = StreamScript(**script).response

    in_thread = await stream(client, alice, "fails", first["conversation_id"])
    new_thread = await stream(client, alice, "fails too")

    for response in (in_thread, new_thread):
        events = sse_events(response.text)
        assert events[0][0] == "start"
        assert events[-1] == ("error", {"status": status, "detail": events[-1][1]["detail"]})
        assert events[-1][1]["detail"]
    assert len(await history(client, alice, first["conversation_id"])) == 2
    assert [c["id"] for c in await conversations(client, alice)] == [first["conversation_id"]]


async def test_an_upstream_that_hangs_ends_with_504_and_stores_nothing(
    tmp_path: Path, upstream, alice_factory=None
):
    script = StreamScript(hold_after=1)  # never released: only the timeout ends it
    upstream.handler = script.response
    async with running(tmp_path / "BDD", upstream, llm_timeout_seconds=0.3) as http:
        await http.post("/auth/register", json={"email": "a@example.com", "password": "correct horse"})
        login = await http.post("/auth/login", json={"email": "a@example.com", "password": "correct horse"})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        response = await http.post("/ai/chat/stream", json={"message": "hi"}, headers=headers)
        kept = (await http.get("/conversations", headers=headers)).json()["items"]

    events = sse_events(response.text)
    assert [kind for kind, _ in events] == ["start", "delta", "error"]
    assert events[-1][1]["status"] == 504
    assert kept == []


async def test_stop_ends_every_stream_of_the_thread_with_stopped_and_stores_each_partial_answer(
    client, upstream, alice
):
    first = await chat(client, alice, "kept")
    scripts = [StreamScript(parts=["Par", "tial", " never"], hold_after=2) for _ in range(2)]
    handed = iter(scripts)
    upstream.handler = lambda request: next(handed).response(request)
    results: list[httpx.Response] = []

    async def one() -> None:
        results.append(await stream(client, alice, "long one", first["conversation_id"]))

    async with anyio.create_task_group() as group:
        group.start_soon(one)
        group.start_soon(one)
        for script in scripts:
            await eventually(lambda script=script: script.held.is_set())
        stopped = await client.post(
            "/ai/chat/stop", json={"conversation_id": first["conversation_id"]}, headers=alice.headers
        )
    assert stopped.status_code == 204

    stored = await history(client, alice, first["conversation_id"])
    for response in results:
        events = sse_events(response.text)
        assert events[-1][0] == "done"
        assert events[-1][1]["finish_reason"] == "stopped"
        answer = "".join(data["content"] for kind, data in events if kind == "delta")
        assert answer == "Partial"
        reply = next(m for m in stored if m["id"] == events[-1][1]["assistant_message_id"])
        assert reply["content"] == "Partial"
    assert len(stored) == 6


async def test_stop_of_a_new_thread_still_being_written_stores_it(app, client, upstream, alice):
    script = StreamScript(parts=["A", "B"], hold_after=1)
    upstream.handler = script.response
    call = RawCall(app, "/ai/chat/stream", {"message": "new"}, alice.headers)
    async with anyio.create_task_group() as group:
        group.start_soon(call.run)
        await eventually(lambda: script.held.is_set() and "event: start" in call.text)
        conversation_id = sse_events(call.text)[0][1]["conversation_id"]
        stopped = await client.post(
            "/ai/chat/stop", json={"conversation_id": conversation_id}, headers=alice.headers
        )
        await call.finished.wait()

    assert stopped.status_code == 204
    assert sse_events(call.text)[-1][1]["finish_reason"] == "stopped"
    assert [m["content"] for m in await history(client, alice, conversation_id)] == ["new", "A"]


async def test_stop_answers_204_when_nothing_runs_and_404_for_unknown_or_foreign_threads(client, alice, bob):
    mine = await chat(client, alice, "mine")
    idle = await client.post(
        "/ai/chat/stop", json={"conversation_id": mine["conversation_id"]}, headers=alice.headers
    )
    foreign = await client.post(
        "/ai/chat/stop", json={"conversation_id": mine["conversation_id"]}, headers=bob.headers
    )
    unknown = await client.post("/ai/chat/stop", json={"conversation_id": UNKNOWN_ID}, headers=alice.headers)
    invalid = await client.post("/ai/chat/stop", json={}, headers=alice.headers)

    assert (idle.status_code, foreign.status_code, unknown.status_code) == (204, 404, 404)
    assert invalid.status_code == 422


async def test_a_stop_from_another_user_does_not_stop_a_running_stream(app, client, upstream, alice, bob):
    script = StreamScript(parts=["A", "B"], hold_after=1)
    upstream.handler = script.response
    call = RawCall(app, "/ai/chat/stream", {"message": "new"}, alice.headers)
    async with anyio.create_task_group() as group:
        group.start_soon(call.run)
        await eventually(lambda: script.held.is_set() and "event: start" in call.text)
        conversation_id = sse_events(call.text)[0][1]["conversation_id"]
        foreign = await client.post(
            "/ai/chat/stop", json={"conversation_id": conversation_id}, headers=bob.headers
        )
        script.release.set()
        await call.finished.wait()

    assert foreign.status_code == 404
    assert sse_events(call.text)[-1][1]["finish_reason"] == "stop"


async def test_a_client_that_goes_away_midway_still_gets_the_whole_turn_stored(app, client, upstream, alice):
    script = StreamScript(parts=["Whole ", "answer"], hold_after=1)
    upstream.handler = script.response
    call = RawCall(app, "/ai/chat/stream", {"message": "closing my tab"}, alice.headers)
    async with anyio.create_task_group() as group:
        group.start_soon(call.run)
        await eventually(script.held.is_set)
        call.disconnect()
        await call.finished.wait()  # the response is over: the client is gone
        assert await conversations(client, alice) == []  # not written yet
        script.release.set()

    async def stored() -> list[dict]:
        found = await conversations(client, alice)
        return found and await history(client, alice, found[0]["id"])

    await eventually(stored)
    assert [m["content"] for m in await stored()] == ["closing my tab", "Whole answer"]
    assert "event: done" not in call.text


async def test_a_keep_alive_comment_goes_out_while_the_upstream_is_silent(
    app, client, upstream, alice, monkeypatch
):
    monkeypatch.setattr("BackEnd.services.chat_stream.KEEPALIVE_SECONDS", 0.02)
    script = StreamScript(hold_after=0)
    upstream.handler = script.response
    call = RawCall(app, "/ai/chat/stream", {"message": "think hard"}, alice.headers)
    async with anyio.create_task_group() as group:
        group.start_soon(call.run)
        await call.wait_until(lambda: ": ping" in call.text)
        script.release.set()
        await call.finished.wait()

    assert [kind for kind, _ in sse_events(call.text)][-1] == "done"


async def test_a_thread_deleted_while_the_answer_is_written_ends_with_404(app, client, upstream, alice):
    first = await chat(client, alice, "kept")
    script = StreamScript(hold_after=1)
    upstream.handler = script.response
    call = RawCall(
        app, "/ai/chat/stream", {"message": "x", "conversation_id": first["conversation_id"]}, alice.headers
    )
    async with anyio.create_task_group() as group:
        group.start_soon(call.run)
        await eventually(script.held.is_set)
        deleted = await client.delete(f"/conversations/{first['conversation_id']}", headers=alice.headers)
        script.release.set()
        await call.finished.wait()

    assert deleted.status_code == 204
    assert sse_events(call.text)[-1] == ("error", {"status": 404, "detail": "Conversation not found."})
    assert json.loads(json.dumps(await conversations(client, alice))) == []
