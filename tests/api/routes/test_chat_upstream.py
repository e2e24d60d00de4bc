"""POST /ai/chat when the AI service fails: clear statuses, no leaked key, nothing stored."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import httpx
import pytest

from BackEnd.config import Settings
from tests.utils.api import TEST_API_KEY, completion, make_settings
from tests.utils.fake_upstream import broken_server
from tests.utils.records import stored_state

LEAK = f"upstream says: your key {TEST_API_KEY} is wrong"


@pytest.fixture
def settings(data_dir: Path, database_url: str | None) -> Settings:
    """The shared app, with a short limit on the whole upstream call.

    Short, not tiny: a dropped connection must fail as such (502) before the limit, also on a
    loaded machine (at 0.2 s the real-socket cases sometimes answered 504 instead).
    """
    return make_settings(data_dir, database_url=database_url, llm_timeout_seconds=1.0)


def status_answer(status: int, headers: dict[str, str] | None = None):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers, json={"error": {"message": LEAK, "code": status}})

    return handler


def body_answer(**body):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body)

    return handler


def raises(kind: type[httpx.TransportError]):
    def handler(request: httpx.Request) -> httpx.Response:
        raise kind(LEAK, request=request)

    return handler


async def too_slow(request: httpx.Request) -> httpx.Response:
    await anyio.sleep(5)
    return completion("too late")


def choice(message: dict | None, finish_reason: str = "stop") -> dict:
    return {"index": 0, "message": message, "finish_reason": finish_reason}


CASES = [
    *(
        pytest.param(status_answer(code), 502, {}, id=f"status-{code}")
        for code in (400, 401, 402, 403, 500, 502, 503)
    ),
    pytest.param(
        status_answer(429, {"Retry-After": "7"}), 429, {"Retry-After": "7"}, id="status-429-retry-after"
    ),
    pytest.param(status_answer(408), 504, {}, id="status-408"),
    pytest.param(body_answer(error={"message": LEAK, "code": 500}), 502, {}, id="200-error-body"),
    pytest.param(lambda request: httpx.Response(200, text=f"<html>{LEAK}"), 502, {}, id="200-invalid-json"),
    pytest.param(body_answer(id="gen-1", choices=[]), 502, {}, id="200-no-choices"),
    pytest.param(
        lambda request: httpx.Response(200, content=b"[" * 100_000 + b"]" * 100_000),
        502,
        {},
        id="200-deep-json",
    ),
    pytest.param(
        body_answer(choices=[choice({"role": "assistant", "content": "partial"}, "error")]),
        502,
        {},
        id="200-finish-reason-error",
    ),
    pytest.param(
        body_answer(choices=[choice({"role": "assistant", "content": None})]), 502, {}, id="200-null-content"
    ),
    pytest.param(raises(httpx.ConnectError), 502, {}, id="connect-error"),
    pytest.param(raises(httpx.RemoteProtocolError), 502, {}, id="remote-protocol-error"),
    pytest.param(raises(httpx.ReadTimeout), 504, {}, id="read-timeout"),
    pytest.param(too_slow, 504, {}, id="slower-than-timeout"),
]


def assert_clean_failure(
    response: httpx.Response, caplog: pytest.LogCaptureFixture, status: int, headers: dict[str, str]
) -> None:
    assert response.status_code == status, response.text
    for name, value in headers.items():
        assert response.headers.get(name) == value
    detail = response.json()["detail"]
    assert isinstance(detail, str) and len(detail.split()) >= 3, detail
    assert detail[0].isupper() and detail.rstrip().endswith("."), detail
    assert TEST_API_KEY not in response.text
    assert TEST_API_KEY not in str(response.headers)
    assert TEST_API_KEY not in caplog.text


@pytest.mark.parametrize(("handler", "status", "headers"), CASES)
async def test_failure_on_a_new_conversation_maps_status_and_creates_nothing(
    client, app, upstream, alice, caplog, handler, status, headers
):
    caplog.set_level(logging.WARNING)
    upstream.handler = handler

    response = await client.post("/ai/chat", json={"message": "Hello there"}, headers=alice.headers)

    assert_clean_failure(response, caplog, status, headers)
    assert len(upstream.requests) == 1
    listed = await client.get("/conversations", headers=alice.headers)
    assert listed.json()["total"] == 0
    assert app.state.context.database.export_dump().messages == []


@pytest.mark.parametrize(("handler", "status", "headers"), CASES)
async def test_failure_in_an_existing_conversation_leaves_history_and_updated_at_unchanged(
    client, app, upstream, alice, caplog, handler, status, headers
):
    first = await client.post("/ai/chat", json={"message": "first"}, headers=alice.headers)
    conversation_id = first.json()["conversation_id"]
    thread_before = (await client.get(f"/conversations/{conversation_id}", headers=alice.headers)).json()
    history_before = (await client.get(f"/history/{conversation_id}", headers=alice.headers)).json()
    stored_before = stored_state(app.state.context.database)
    caplog.set_level(logging.WARNING)
    upstream.handler = handler

    response = await client.post(
        "/ai/chat", json={"message": "second", "conversation_id": conversation_id}, headers=alice.headers
    )

    assert_clean_failure(response, caplog, status, headers)
    assert len(upstream.requests) == 2
    assert upstream.bodies[-1]["messages"][-1] == {"role": "user", "content": "second"}
    assert (
        await client.get(f"/conversations/{conversation_id}", headers=alice.headers)
    ).json() == thread_before
    assert (await client.get(f"/history/{conversation_id}", headers=alice.headers)).json() == history_before
    assert stored_state(app.state.context.database) == stored_before


async def test_model_answers_again_after_a_failure(client, upstream, alice):
    upstream.handler = status_answer(503)
    failed = await client.post("/ai/chat", json={"message": "first try"}, headers=alice.headers)
    upstream.handler = None

    retried = await client.post("/ai/chat", json={"message": "second try"}, headers=alice.headers)

    assert failed.status_code == 502
    assert retried.status_code == 200
    assert retried.json()["answer"] == "echo: second try"


async def test_key_cut_by_the_log_excerpt_limit_is_not_logged_in_part(client, upstream, alice, caplog):
    caplog.set_level(logging.WARNING)
    # The key straddles the 500th character of the body: the excerpt must not keep its first half.
    upstream.handler = lambda request: httpx.Response(401, text="x" * 475 + TEST_API_KEY)

    response = await client.post("/ai/chat", json={"message": "hello"}, headers=alice.headers)

    assert response.status_code == 502
    assert "401" in caplog.text  # the rejection itself is logged for the administrator
    assert TEST_API_KEY[:20] not in caplog.text


def forward_to(address: str):
    """A handler that sends the upstream request over a real socket to `address`."""

    async def handler(request: httpx.Request) -> httpx.Response:
        url = httpx.URL(address).join(request.url.raw_path.decode())
        # verify=False: plain http here, and loading the CA bundle costs tens of ms of the limit.
        async with httpx.AsyncClient(trust_env=False, verify=False) as network:
            sent = await network.send(
                httpx.Request(request.method, url, headers=request.headers, content=request.content)
            )
            await sent.aread()
            return sent

    return handler


@pytest.mark.parametrize(
    ("behaviour", "status"),
    [("close", 502), ("half-body", 502), ("silent", 504)],
    ids=["hang-up", "half-body", "silent"],
)
async def test_real_connection_dropped_or_hung_is_a_clean_failure_that_stores_nothing(
    client, upstream, alice, caplog, behaviour, status
):
    caplog.set_level(logging.WARNING)
    first = await client.post("/ai/chat", json={"message": "first"}, headers=alice.headers)
    conversation_id = first.json()["conversation_id"]
    before = (await client.get(f"/history/{conversation_id}", headers=alice.headers)).json()

    with broken_server(behaviour) as address:
        upstream.handler = forward_to(address)
        response = await client.post(
            "/ai/chat", json={"message": "second", "conversation_id": conversation_id}, headers=alice.headers
        )

    assert_clean_failure(response, caplog, status, {})
    assert (await client.get(f"/history/{conversation_id}", headers=alice.headers)).json() == before


@pytest.mark.parametrize(
    ("sent", "passed_on"),
    [
        (b"7", "7"),
        (b"Wed, 21 Oct 2026 07:28:00 GMT", "Wed, 21 Oct 2026 07:28:00 GMT"),
        ("€5".encode(), None),  # not Latin-1: could not even be written into our headers
        (b"7\x00", None),  # a NUL is not allowed in any HTTP header
        (b"9" * 5000, None),
        (b"soon", None),
    ],
    ids=["seconds", "http-date", "non-latin-1", "nul", "5000-digits", "not-a-delay"],
)
async def test_rate_limit_passes_on_only_a_valid_retry_after(client, upstream, alice, sent, passed_on):
    upstream.handler = lambda request: httpx.Response(429, headers=[(b"Retry-After", sent)])

    response = await client.post("/ai/chat", json={"message": "hello"}, headers=alice.headers)

    assert response.status_code == 429, response.text
    assert response.headers.get("Retry-After") == passed_on


async def test_answer_with_a_lone_surrogate_is_stored_with_a_replacement_character(client, upstream, alice):
    # Valid JSON, invalid Unicode: half an emoji, as a truncating upstream may send it.
    raw = b'{"choices": [{"message": {"role": "assistant", "content": "I \\ud83d you"}}]}'
    upstream.handler = lambda request: httpx.Response(200, content=raw)

    first = await client.post("/ai/chat", json={"message": "hello"}, headers=alice.headers)
    upstream.handler = None
    conversation_id = first.json()["conversation_id"]
    second = await client.post(
        "/ai/chat", json={"message": "again", "conversation_id": conversation_id}, headers=alice.headers
    )

    assert first.status_code == 200, first.text
    assert first.json()["answer"] == "I \ufffd you"
    assert second.status_code == 200, second.text
    history = (await client.get(f"/history/{conversation_id}", headers=alice.headers)).json()["items"]
    assert [m["content"] for m in history] == ["hello", "I \ufffd you", "again", "echo: again"]
