"""Issue 10 part 1 on every backend: several models answer one message, over /ai/chat, SSE and the socket."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI

from tests.api.routes.test_chat import conversations, history
from tests.utils.api import Account, FakeUpstream
from tests.utils.models_upstream import ModelsUpstream
from tests.utils.sockets import socket
from tests.utils.streams import RawCall, eventually, sse_events

A, B, C, D = "vendor/a", "vendor/b", "vendor/c", "vendor/d"


@pytest.fixture
def models(upstream: FakeUpstream) -> ModelsUpstream:
    fake = ModelsUpstream()
    upstream.handler = fake.handle
    return fake


async def ask(client: httpx.AsyncClient, who: Account, message: str = "Salut", **body: Any) -> httpx.Response:
    return await client.post("/ai/chat", json={"message": message, **body}, headers=who.headers)


async def test_several_models_answer_in_the_order_asked_and_are_stored_with_reply_to(client, models, alice):
    response = await ask(client, alice, models=[B, A, C])

    assert response.status_code == 200, response.text
    reply = response.json()
    assert [answer["model"] for answer in reply["answers"]] == [B, A, C]
    assert [answer["answer"] for answer in reply["answers"]] == [f"{m} says: Salut" for m in (B, A, C)]
    assert all(answer["error"] is None for answer in reply["answers"])
    first = reply["answers"][0]
    assert (reply["answer"], reply["model"], reply["assistant_message_id"]) == (
        first["answer"],
        B,
        first["assistant_message_id"],
    )
    stored = await history(client, alice, reply["conversation_id"])
    assert [m["id"] for m in stored] == [
        reply["user_message_id"],
        *(answer["assistant_message_id"] for answer in reply["answers"]),
    ]
    assert [m["reply_to"] for m in stored] == [None, *[reply["user_message_id"]] * 3]
    assert [m["model"] for m in stored[1:]] == [B, A, C]
    (thread,) = await conversations(client, alice)
    assert thread["message_count"] == 4


async def test_the_model_calls_overlap(client, models, alice):
    models.gather = 3  # each call waits for the other two: one after another, none would see them

    response = await ask(client, alice, models=[A, B, C])

    assert response.status_code == 200
    assert models.most_at_once == 3


async def test_a_failing_model_has_an_error_and_stores_nothing(client, models, alice):
    models.failing = {A}

    reply = (await ask(client, alice, models=[A, B])).json()

    failed, answered = reply["answers"]
    assert failed["model"] == A and failed["error"]["status"] == 502 and failed["error"]["detail"]
    assert failed["answer"] is failed["assistant_message_id"] is failed["usage"] is None
    assert answered["error"] is None
    assert (reply["model"], reply["assistant_message_id"]) == (B, answered["assistant_message_id"])
    stored = await history(client, alice, reply["conversation_id"])
    assert [m["content"] for m in stored] == ["Salut", f"{B} says: Salut"]


async def test_when_every_model_fails_the_turn_is_refused_and_nothing_stored(client, models, alice):
    models.failing = {A, B}

    response = await ask(client, alice, models=[A, B])

    assert response.status_code == 502
    assert await conversations(client, alice) == []


@pytest.mark.parametrize(
    "body",
    [
        {"model": A, "models": [B, C]},
        {"models": [A]},
        {"models": [A, B, C, D, "vendor/e"]},
        {"models": [A, A]},
        {"models": [A, "bad model"]},
        {"models": "vendor/a"},
    ],
)
async def test_bad_model_lists_are_422(client, models, alice, body):
    response = await ask(client, alice, **body)

    assert response.status_code == 422, response.text
    assert models.contexts == {}


async def test_each_model_must_be_allowed(client, app: FastAPI, models, alice, monkeypatch):
    monkeypatch.setattr(app.state.context.settings, "allowed_models", [A, B])

    response = await ask(client, alice, models=[A, C])

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "models", "1"]


async def test_each_model_remembers_its_own_answer_else_the_first(client, models, alice):
    first = (await ask(client, alice, "un", models=[A, B])).json()
    thread = first["conversation_id"]
    await ask(client, alice, "deux", conversation_id=thread, models=[B, C])

    assert (await ask(client, alice, "trois", conversation_id=thread, models=[A, C])).status_code == 200

    def shown(model: str) -> list[str]:
        return [m["content"] for m in models.contexts[model][-1][1:]]

    # A answered turn 1 but not turn 2 (B did, first); C answered turn 2 only.
    assert shown(A) == ["un", f"{A} says: un", "deux", f"{B} says: deux", "trois"]
    assert shown(C) == ["un", f"{A} says: un", "deux", f"{C} says: deux", "trois"]


async def test_the_memory_window_counts_one_answer_per_turn(client, app: FastAPI, models, alice, monkeypatch):
    monkeypatch.setattr(app.state.context.settings, "chat_memory_messages", 5)
    thread = (await ask(client, alice, "un", models=[A, B, C, D])).json()["conversation_id"]
    await ask(client, alice, "deux", conversation_id=thread, models=[A, B, C, D])

    await ask(client, alice, "trois", conversation_id=thread, model=D)

    shown = [m["content"] for m in models.contexts[D][-1][1:]]
    assert shown == ["un", f"{D} says: un", "deux", f"{D} says: deux", "trois"]


async def test_usage_counts_every_answer_and_the_rate_counts_the_turn_once(
    client, app: FastAPI, models, alice, monkeypatch
):
    monkeypatch.setattr(app.state.context.settings, "chat_rate_per_minute", 2)

    first = await ask(client, alice, models=[A, B, C])
    second = await ask(client, alice, models=[A, B])
    third = await ask(client, alice, models=[A, B])

    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)
    usage = (await client.get("/auth/me/usage", headers=alice.headers)).json()
    assert usage["total"]["messages"] == 5
    assert usage["total"]["total_tokens"] == 5 * 15
    assert {line["model"]: line["messages"] for line in usage["by_model"]} == {A: 2, B: 2, C: 1}


async def test_a_stream_of_several_models_names_the_model_on_every_event_and_ends(client, models, alice):
    models.failing = {B}

    response = await client.post(
        "/ai/chat/stream", json={"message": "Salut", "models": [A, B, C]}, headers=alice.headers
    )

    assert response.status_code == 200
    events = sse_events(response.text)
    assert events[-1] == ("end", {"conversation_id": events[0][1]["conversation_id"]})
    assert all("model" in data for kind, data in events[:-1])
    starts = [data for kind, data in events if kind == "start"]
    assert [start["model"] for start in starts] == [A, B, C]
    endings = {data["model"]: kind for kind, data in events if kind in ("done", "error")}
    assert endings == {A: "done", B: "error", C: "done"}
    text = {m: "".join(d["content"] for k, d in events if k == "delta" and d["model"] == m) for m in (A, C)}
    assert text == {A: f"{A} says: Salut", C: f"{C} says: Salut"}
    stored = await history(client, alice, starts[0]["conversation_id"])
    assert [m["id"] for m in stored] == [starts[0]["user_message_id"], starts[0]["assistant_message_id"],
                                         starts[2]["assistant_message_id"]]  # fmt: skip
    assert [m["content"] for m in stored[1:]] == [text[A], text[C]]


async def test_a_stream_whose_models_all_fail_stores_nothing(client, models, alice):
    models.failing = {A, B}

    response = await client.post(
        "/ai/chat/stream", json={"message": "Salut", "models": [A, B]}, headers=alice.headers
    )

    kinds = [(kind, data.get("model")) for kind, data in sse_events(response.text)]
    assert sorted(kinds[2:-1]) == [("error", A), ("error", B)] and kinds[-1] == ("end", None)
    assert await conversations(client, alice) == []


async def test_a_single_model_stream_is_unchanged(client, models, alice):
    response = await client.post(
        "/ai/chat/stream", json={"message": "Salut", "model": A}, headers=alice.headers
    )

    kinds = [kind for kind, _ in sse_events(response.text)]
    assert kinds[0] == "start" and kinds[-1] == "done" and "end" not in kinds


async def test_the_socket_streams_several_models(app, client, models, alice):
    async with socket(app) as ws:
        await ws.send({"type": "auth", "token": alice.token})
        await ws.receive()
        await ws.send({"type": "chat", "request_id": 7, "message": "Salut", "models": [A, B]})
        events = await ws.until("end", 7)

    assert {e["request_id"] for e in events} == {7}
    assert {e["model"]: e["type"] for e in events if e["type"] in ("done", "error")} == {A: "done", B: "done"}
    stored = await history(client, alice, events[-1]["conversation_id"])
    assert [m["model"] for m in stored] == [None, A, B]


async def test_stream_calls_overlap(client, models, alice):
    models.gather = 3

    response = await client.post(
        "/ai/chat/stream", json={"message": "Salut", "models": [A, B, C]}, headers=alice.headers
    )

    assert [kind for kind, _ in sse_events(response.text)].count("done") == 3
    assert models.most_at_once == 3


async def test_a_stop_keeps_each_model_s_answer_as_far_as_it_got(app, client, models, alice):
    models.hold = anyio.Event()
    call = RawCall(app, "/ai/chat/stream", {"message": "Salut", "models": [A, B]}, alice.headers)
    async with anyio.create_task_group() as group:
        group.start_soon(call.run)
        await eventually(lambda: models.halfway == 2 and "event: start" in call.text)
        conversation_id = sse_events(call.text)[0][1]["conversation_id"]
        stopped = await client.post(
            "/ai/chat/stop", json={"conversation_id": conversation_id}, headers=alice.headers
        )
        await call.finished.wait()

    assert stopped.status_code == 204
    done = {data["model"]: data["finish_reason"] for kind, data in sse_events(call.text) if kind == "done"}
    assert done == {A: "stopped", B: "stopped"}
    stored = await history(client, alice, conversation_id)
    halves = [f"{m} says: Salut"[: len(f"{m} says: Salut") // 2] for m in (A, B)]
    assert [m["content"] for m in stored] == ["Salut", *halves]


async def test_a_client_gone_midway_still_gets_every_answer_stored(app, client, models, alice):
    models.hold = anyio.Event()
    call = RawCall(app, "/ai/chat/stream", {"message": "Salut", "models": [A, B]}, alice.headers)
    async with anyio.create_task_group() as group:
        group.start_soon(call.run)
        await eventually(lambda: models.halfway == 2)
        call.disconnect()
        await call.finished.wait()
        models.hold.set()

    async def stored() -> list[dict]:
        found = await conversations(client, alice)
        return found and await history(client, alice, found[0]["id"])

    await eventually(stored)
    assert [m["content"] for m in await stored()] == ["Salut", f"{A} says: Salut", f"{B} says: Salut"]


async def test_a_fork_s_answers_reply_to_the_copies_of_their_questions(client, models, alice):
    reply = (await ask(client, alice, models=[A, B])).json()

    forked = await client.post(f"/conversations/{reply['conversation_id']}/fork", headers=alice.headers)

    copies = await history(client, alice, forked.json()["id"])
    assert [m["reply_to"] for m in copies] == [None, copies[0]["id"], copies[0]["id"]]
    assert copies[0]["id"] != reply["user_message_id"]


async def test_an_imported_answer_replies_to_the_question_before_it(client, models, alice):
    reply = (await ask(client, alice, models=[A, B])).json()
    exported = await client.get(
        f"/conversations/{reply['conversation_id']}/export?format=json", headers=alice.headers
    )

    imported = await client.post("/conversations/import", content=exported.content, headers=alice.headers)

    copies = await history(client, alice, imported.json()["conversation_ids"][0])
    assert [m["reply_to"] for m in copies] == [None, copies[0]["id"], copies[0]["id"]]
