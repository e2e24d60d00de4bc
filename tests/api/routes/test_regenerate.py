"""Issue 10 part 2 on every backend: regenerate, and edit then resend, over HTTP, SSE and the socket."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

from tests.api.routes.test_chat import UNKNOWN_ID, conversations, history
from tests.utils.api import Account, FakeUpstream
from tests.utils.models_upstream import ModelsUpstream
from tests.utils.sockets import socket
from tests.utils.streams import RawCall, eventually, sse_events

A, B, C = "vendor/a", "vendor/b", "vendor/c"


@pytest.fixture
def models(upstream: FakeUpstream) -> ModelsUpstream:
    fake = ModelsUpstream()
    upstream.handler = fake.handle
    return fake


async def ask(client: httpx.AsyncClient, who: Account, message: str, **body: Any) -> dict[str, Any]:
    response = await client.post("/ai/chat", json={"message": message, **body}, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def again(client: httpx.AsyncClient, who: Account, conversation_id: str, **body: Any) -> httpx.Response:
    return await client.post(
        "/ai/chat/regenerate", json={"conversation_id": conversation_id, **body}, headers=who.headers
    )


async def test_one_new_answer_keeps_the_old_id_and_time_and_is_marked_edited(client, models, alice):
    first = await ask(client, alice, "un", model=A)
    second = await ask(client, alice, "deux", model=A, conversation_id=first["conversation_id"])
    before = await history(client, alice, first["conversation_id"])

    response = await again(client, alice, first["conversation_id"], model=B)

    assert response.status_code == 200, response.text
    reply = response.json()
    assert (reply["assistant_message_id"], reply["user_message_id"]) == (
        second["assistant_message_id"],
        second["user_message_id"],
    )
    assert reply["answer"] == f"{B} says: deux" and reply["model"] == B
    after = await history(client, alice, first["conversation_id"])
    assert after[:3] == before[:3]  # the question unchanged: same text, not edited
    assert after[3]["id"] == before[3]["id"] and after[3]["created_at"] == before[3]["created_at"]
    assert after[3]["content"] == f"{B} says: deux" and after[3]["model"] == B
    assert after[3]["edited_at"] is not None and after[3]["reply_to"] == before[2]["id"]
    # The model saw the earlier turn and the question, never the answer it replaces.
    assert [m["content"] for m in models.contexts[B][-1][1:]] == ["un", f"{A} says: un", "deux"]


async def test_edit_then_resend_replaces_the_question_s_text_and_marks_it(client, models, alice):
    first = await ask(client, alice, "old question", model=A)

    reply = (await again(client, alice, first["conversation_id"], message="new question")).json()

    after = await history(client, alice, first["conversation_id"])
    assert [m["content"] for m in after] == ["new question", "openrouter/auto says: new question"]
    assert after[0]["id"] == first["user_message_id"] and after[0]["edited_at"] is not None
    assert reply["answer"] == "openrouter/auto says: new question"
    (thread,) = await conversations(client, alice)
    assert (thread["message_count"], thread["preview"]) == (2, "openrouter/auto says: new question")
    found = await client.get("/search", params={"q": "old"}, headers=alice.headers)
    assert [item["message_id"] for item in found.json()["items"]] == [None]  # the title only


async def test_several_models_replace_the_answer_with_new_ids(client, models, alice):
    first = await ask(client, alice, "un", model=A)

    reply = (await again(client, alice, first["conversation_id"], models=[B, C])).json()

    ids = [answer["assistant_message_id"] for answer in reply["answers"]]
    assert first["assistant_message_id"] not in ids
    after = await history(client, alice, first["conversation_id"])
    assert [m["id"] for m in after] == [first["user_message_id"], *ids]
    assert [m["reply_to"] for m in after[1:]] == [first["user_message_id"]] * 2
    (thread,) = await conversations(client, alice)
    assert thread["message_count"] == 3


@pytest.mark.parametrize("edit", [None, "edited text"])
async def test_a_failed_regenerate_leaves_the_thread_exactly_as_it_was(client, models, alice, edit):
    first = await ask(client, alice, "un", model=A)
    before = await history(client, alice, first["conversation_id"])
    listed = await conversations(client, alice)
    models.failing = {B, C}

    one = await again(client, alice, first["conversation_id"], model=B, message=edit)
    several = await again(client, alice, first["conversation_id"], models=[B, C], message=edit)

    assert (one.status_code, several.status_code) == (502, 502)
    assert await history(client, alice, first["conversation_id"]) == before
    assert await conversations(client, alice) == listed


async def test_a_partial_failure_keeps_the_answers_given(client, models, alice):
    first = await ask(client, alice, "un", model=A)
    models.failing = {B}

    reply = (await again(client, alice, first["conversation_id"], models=[B, C])).json()

    assert [answer["error"] is None for answer in reply["answers"]] == [False, True]
    after = await history(client, alice, first["conversation_id"])
    assert [m["content"] for m in after] == ["un", f"{C} says: un"]


async def test_nothing_to_regenerate_is_409_with_a_sentence(client, models, alice):
    empty = (await client.post("/conversations", json={}, headers=alice.headers)).json()
    emptied = await ask(client, alice, "un")
    await client.delete(f"/history/{emptied['conversation_id']}", headers=alice.headers)

    for conversation_id in (empty["id"], emptied["conversation_id"]):
        response = await again(client, alice, conversation_id)
        assert response.status_code == 409
        assert "nothing to regenerate" in response.json()["detail"]


async def test_another_user_s_thread_or_an_unknown_one_is_404(client, models, alice, bob):
    first = await ask(client, alice, "secret")

    foreign = await again(client, bob, first["conversation_id"], message="hijack")
    unknown = await again(client, alice, UNKNOWN_ID)

    assert (foreign.status_code, unknown.status_code) == (404, 404)
    assert [m["content"] for m in await history(client, alice, first["conversation_id"])][0] == "secret"


async def test_a_regenerate_counts_its_tokens(client, models, alice):
    first = await ask(client, alice, "un", model=A)

    await again(client, alice, first["conversation_id"], models=[B, C])

    usage = (await client.get("/auth/me/usage", headers=alice.headers)).json()
    assert usage["total"]["messages"] == 3


async def test_the_stream_replaces_the_turn_and_ends(client, models, alice):
    first = await ask(client, alice, "un", model=A)

    response = await client.post(
        "/ai/chat/regenerate/stream",
        json={"conversation_id": first["conversation_id"], "model": B, "message": "deux"},
        headers=alice.headers,
    )

    events = sse_events(response.text)
    assert [kind for kind, _ in events][0] == "start" and events[-1][0] == "end"
    assert events[0][1]["assistant_message_id"] == first["assistant_message_id"]
    after = await history(client, alice, first["conversation_id"])
    assert [m["content"] for m in after] == ["deux", f"{B} says: deux"]


async def test_a_stream_stopped_before_any_text_leaves_the_thread_as_it_was(app, client, models, alice):
    first = await ask(client, alice, "un", model=A)
    before = await history(client, alice, first["conversation_id"])
    models.hold, models.hold_before_text = anyio.Event(), True
    body = {"conversation_id": first["conversation_id"], "model": B, "message": "changed"}
    call = RawCall(app, "/ai/chat/regenerate/stream", body, alice.headers)
    async with anyio.create_task_group() as group:
        group.start_soon(call.run)
        await eventually(lambda: models.halfway == 1 and "event: start" in call.text)
        stopped = await client.post(
            "/ai/chat/stop", json={"conversation_id": first["conversation_id"]}, headers=alice.headers
        )
        await call.finished.wait()

    assert stopped.status_code == 204
    kinds = [(kind, data.get("status")) for kind, data in sse_events(call.text)]
    assert kinds[-2:] == [("error", 409), ("end", None)]
    assert await history(client, alice, first["conversation_id"]) == before


async def test_the_socket_regenerates(app, client, models, alice):
    first = await ask(client, alice, "un", model=A)
    async with socket(app) as ws:
        await ws.send({"type": "auth", "token": alice.token})
        await ws.receive()
        await ws.send({"type": "regenerate", "request_id": "r", "conversation_id": first["conversation_id"]})
        events = await ws.until("end", "r")

    assert [e["type"] for e in events if e["type"] != "delta"] == ["start", "done", "end"]
    after = await history(client, alice, first["conversation_id"])
    assert after[1]["id"] == first["assistant_message_id"] and after[1]["edited_at"] is not None


async def test_a_regenerate_counts_against_the_chat_rate_like_a_turn(client, app, models, alice, monkeypatch):
    monkeypatch.setattr(app.state.context.settings, "chat_rate_per_minute", 1)
    first = await ask(client, alice, "un", model=A)
    before = await history(client, alice, first["conversation_id"])

    refused = await again(client, alice, first["conversation_id"], message="autre")

    assert refused.status_code == 429
    assert await history(client, alice, first["conversation_id"]) == before
