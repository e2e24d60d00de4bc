"""Issue 10 part 4 on every backend: automatic titles after a first turn, never over a rename."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import httpx
import pytest

from BackEnd.config import Settings
from tests.utils.api import Account, FakeUpstream, make_settings, message_text
from tests.utils.streams import StreamScript, eventually

TITLE = "Photosynthèse des plantes"
TURN_USAGE = {"prompt_tokens": 15, "completion_tokens": 5, "total_tokens": 20}
TITLE_USAGE = {"prompt_tokens": 6, "completion_tokens": 1, "total_tokens": 7}


@pytest.fixture
def settings(data_dir: Path, database_url: str | None) -> Settings:
    return make_settings(data_dir, database_url=database_url, auto_titles=True, title_model="t/titler")


def is_title_call(request: httpx.Request) -> bool:
    """Title calls are recognisable: their system message asks for a title."""
    messages = json.loads(request.content)["messages"]
    return messages[0]["role"] == "system" and messages[0]["content"].startswith("Write a title")


def titled(answer: str = TITLE, *, gate: anyio.Event | None = None, status: int = 200) -> object:
    """An upstream echoing turns, and answering title calls with `answer` (after `gate`, if given)."""

    async def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if not is_title_call(request):
            text = "echo: " + message_text(body["messages"][-1])
            choice = {"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            return httpx.Response(
                200, json={"model": body["model"], "choices": [choice], "usage": TURN_USAGE}
            )
        if gate is not None:
            await gate.wait()
        if status != 200:
            return httpx.Response(status, json={"error": {"message": "title model down"}})
        choice = {"message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}
        return httpx.Response(200, json={"model": body["model"], "choices": [choice], "usage": TITLE_USAGE})

    return handle


async def title_of(client: httpx.AsyncClient, who: Account, conversation_id: str) -> str:
    response = await client.get(f"/conversations/{conversation_id}", headers=who.headers)
    return str(response.json()["title"])


async def tokens_of(client: httpx.AsyncClient, who: Account) -> int:
    response = await client.get("/auth/me/usage", headers=who.headers)
    return int(response.json()["total"]["total_tokens"])


def equals(read: object, expected: object) -> object:
    """A condition for `eventually`: the awaited read equals `expected`."""

    async def check() -> bool:
        return await read() == expected  # type: ignore[operator, no-any-return]

    return check


def title_calls(upstream: FakeUpstream) -> list[httpx.Request]:
    return [request for request in upstream.requests if is_title_call(request)]


async def test_the_first_turn_gets_a_title_from_the_title_model_and_its_tokens_count(
    client, upstream, admin, alice
):
    upstream.handler = titled(f'"{TITLE}."')  # type: ignore[assignment]
    await client.patch(f"/users/{alice.id}", json={"credits": 1000}, headers=admin.headers)
    first = await client.post(
        "/ai/chat", json={"message": "Explique la photosynthèse"}, headers=alice.headers
    )
    conversation_id = first.json()["conversation_id"]

    await eventually(equals(lambda: tokens_of(client, alice), 27))
    assert await title_of(client, alice, conversation_id) == TITLE  # quotes and final period dropped
    (call,) = title_calls(upstream)
    sent = json.loads(call.content)
    assert sent["model"] == "t/titler" and sent["messages"][-1]["content"] == "Explique la photosynthèse"
    assert (await client.get("/auth/me", headers=alice.headers)).json()["credits"] == 1000 - 27
    # A later turn asks for no other title.
    await client.post(
        "/ai/chat",
        json={"message": "Et la nuit ?", "conversation_id": conversation_id},
        headers=alice.headers,
    )
    assert len(title_calls(upstream)) == 1


async def test_a_rename_while_the_title_is_written_wins(client, upstream, alice):
    gate = anyio.Event()
    upstream.handler = titled(gate=gate)  # type: ignore[assignment]
    first = await client.post(
        "/ai/chat", json={"message": "Explique la photosynthèse"}, headers=alice.headers
    )
    conversation_id = first.json()["conversation_id"]
    await eventually(lambda: len(title_calls(upstream)) == 1)

    renamed = await client.patch(
        f"/conversations/{conversation_id}", json={"title": "Mon titre"}, headers=alice.headers
    )
    assert renamed.status_code == 200
    gate.set()
    await eventually(equals(lambda: tokens_of(client, alice), 27))  # the title call was stored (its tokens)
    assert await title_of(client, alice, conversation_id) == "Mon titre"


async def test_a_thread_created_with_a_title_keeps_it(client, upstream, alice):
    upstream.handler = titled()  # type: ignore[assignment]
    created = await client.post("/conversations", json={"title": "Chimie"}, headers=alice.headers)
    conversation_id = created.json()["id"]
    await client.post(
        "/ai/chat", json={"message": "Bonjour", "conversation_id": conversation_id}, headers=alice.headers
    )
    assert title_calls(upstream) == []
    assert await title_of(client, alice, conversation_id) == "Chimie"


async def test_a_thread_created_without_a_title_gets_one_after_its_first_turn(client, upstream, alice):
    upstream.handler = titled()  # type: ignore[assignment]
    created = await client.post("/conversations", json={}, headers=alice.headers)
    conversation_id = created.json()["id"]
    await client.post(
        "/ai/chat", json={"message": "Bonjour", "conversation_id": conversation_id}, headers=alice.headers
    )
    await eventually(equals(lambda: title_of(client, alice, conversation_id), TITLE))


@pytest.mark.parametrize(
    ("answer", "status", "tokens"),
    # An empty answer is refused by the model client itself (no usage read); an unusable one's
    # tokens were spent and count.
    [
        ("", 200, 20),
        ("   \n ", 200, None),
        ("x" * 61, 200, 27),
        ("Un titre\nsur deux lignes", 200, 27),
        (TITLE, 500, 20),
    ],
    ids=["empty", "blank", "over-long", "two-lines", "upstream-error"],
)
async def test_a_failed_or_unusable_title_changes_nothing(
    client, upstream, alice, caplog, answer, status, tokens
):
    upstream.handler = titled(answer, status=status)  # type: ignore[assignment]
    message = "Explique la photosynthèse en détail"
    first = await client.post("/ai/chat", json={"message": message}, headers=alice.headers)
    conversation_id = first.json()["conversation_id"]

    await eventually(lambda: "No automatic title" in caplog.text)
    assert await title_of(client, alice, conversation_id) == message
    if tokens is not None:
        assert await tokens_of(client, alice) == tokens


async def test_a_stream_gets_its_title_after_done(client, upstream, alice):
    script = StreamScript()

    async def handle(request: httpx.Request) -> httpx.Response:
        if is_title_call(request):
            return await titled()(request)  # type: ignore[operator, no-any-return]
        return script.response(request)  # type: ignore[no-any-return]

    upstream.handler = handle  # type: ignore[assignment]
    response = await client.post("/ai/chat/stream", json={"message": "Bonjour"}, headers=alice.headers)
    assert '"done"' in response.text or "event: done" in response.text
    start = json.loads(response.text.split("data: ", 1)[1].split("\n", 1)[0])
    await eventually(equals(lambda: title_of(client, alice, start["conversation_id"]), TITLE))


async def test_auto_titles_off_asks_for_none(tmp_path, database_url, upstream):
    from BackEnd.app import create_app
    from tests.utils.api import sign_up

    settings = make_settings(tmp_path / "off", database_url=database_url, auto_titles=False)
    app = create_app(settings, upstream_transport=httpx.MockTransport(upstream.handle))
    upstream.handler = titled()  # type: ignore[assignment]
    async with app.router.lifespan_context(app):
        assert app.state.context.titles is None
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            alice = await sign_up(client, "alice@example.com")
            await client.post("/ai/chat", json={"message": "Bonjour"}, headers=alice.headers)
    # The lifespan waited for any background task: none asked for a title.
    assert len(upstream.requests) == 1 and title_calls(upstream) == []
