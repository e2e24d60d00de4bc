"""OWASP API4: oversized or pathological input is refused with a 4xx early, holding little memory."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator

import httpx
import pytest

from BackEnd.app import CHAT_PATHS, MAX_BODY_BYTES, MAX_CHAT_BYTES
from tests.utils.api import Account, FakeUpstream
from tests.utils.routes import ENDPOINTS, Endpoint

CHUNK = 64 * 1024
OFFERED = 64 * 1024 * 1024  # what a hostile client would send if the server kept reading
BODY_ROUTES = [endpoint for endpoint in ENDPOINTS if endpoint.body_model is not None]
JSON_ROUTES = [endpoint for endpoint in BODY_ROUTES if not endpoint.form]
PAGED_ROUTES = [endpoint for endpoint in ENDPOINTS if {"limit", "offset"} <= set(endpoint.query_params)]


def _path(endpoint: Endpoint) -> str:
    return endpoint.path.format(**{name: "conv_" + "0" * 32 for name in endpoint.path_params})


def _cap(endpoint: Endpoint) -> int:
    # Chat bodies may carry images (issue 10): their own, larger cap.
    return MAX_CHAT_BYTES if endpoint.path in CHAT_PATHS else MAX_BODY_BYTES


def _content_type(endpoint: Endpoint) -> str:
    return "application/x-www-form-urlencoded" if endpoint.form else "application/json"


class CountingBody:
    """A request body of OFFERED bytes, produced lazily, counting what the server pulled."""

    def __init__(self) -> None:
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunk = b"a" * CHUNK
        while self.sent < OFFERED:
            self.sent += CHUNK
            yield chunk


@pytest.mark.parametrize("endpoint", BODY_ROUTES, ids=str)
async def test_endless_body_without_declared_length_is_cut_off_just_past_the_cap(
    client: httpx.AsyncClient, alice: Account, upstream: FakeUpstream, endpoint: Endpoint
) -> None:
    body = CountingBody()
    headers = {**alice.headers, "Content-Type": _content_type(endpoint)}
    tracemalloc.start()
    try:
        response = await client.request(endpoint.method, _path(endpoint), content=body, headers=headers)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    cap = _cap(endpoint)
    assert response.status_code == 413, response.text
    assert response.json() == {"detail": f"Request body too large: the limit is {cap} bytes."}
    assert body.sent <= cap + CHUNK, f"the server read {body.sent} bytes"
    assert peak < 8 * cap, f"{peak} bytes allocated while refusing the body"
    assert upstream.requests == []


@pytest.mark.parametrize(("path", "cap"), [("/conversations", MAX_BODY_BYTES), ("/ai/chat", MAX_CHAT_BYTES)])
async def test_declared_length_over_the_cap_is_refused_before_reading(
    client: httpx.AsyncClient, alice: Account, upstream: FakeUpstream, path: str, cap: int
) -> None:
    body = b'{"message": "' + b"a" * (cap + 1) + b'"}'
    response = await client.post(
        path, content=body, headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {"detail": f"Request body too large: the limit is {cap} bytes."}
    assert upstream.requests == []


async def test_a_chat_body_over_one_mib_is_read_while_other_routes_keep_their_cap(
    client: httpx.AsyncClient, alice: Account, upstream: FakeUpstream
) -> None:
    padding = " " * (2 * MAX_BODY_BYTES)  # JSON whitespace: a 2 MiB body with a short message
    body = ('{"message": "bonjour"' + padding + "}").encode()
    headers = {**alice.headers, "Content-Type": "application/json"}
    assert (await client.post("/ai/chat", content=body, headers=headers)).status_code == 200
    assert (await client.post("/conversations", content=body, headers=headers)).status_code == 413


@pytest.mark.parametrize("endpoint", JSON_ROUTES, ids=str)
async def test_json_nested_100000_deep_is_a_400_not_a_crash(
    client: httpx.AsyncClient, alice: Account, upstream: FakeUpstream, endpoint: Endpoint
) -> None:
    depth = 100_000
    deep = b'{"message": ' + b"[" * depth + b"]" * depth + b"}"
    headers = {**alice.headers, "Content-Type": "application/json"}

    response = await client.request(endpoint.method, _path(endpoint), content=deep, headers=headers)

    assert response.status_code == 400, response.text
    assert response.json() == {"detail": "There was an error parsing the body"}
    assert upstream.requests == []


PAGING_ABUSE = {
    "huge-limit": {"limit": 10**12},
    "limit-of-5000-digits": {"limit": "9" * 5000},
    "limit-over-200": {"limit": 201},
    "negative-offset": {"offset": -1},
    "huge-offset": {"offset": 10**12},
    "float-limit": {"limit": "1e309"},
}


@pytest.mark.parametrize("params", PAGING_ABUSE.values(), ids=PAGING_ABUSE.keys())
@pytest.mark.parametrize("endpoint", PAGED_ROUTES, ids=str)
async def test_abusive_paging_is_a_422_naming_the_parameter(
    client: httpx.AsyncClient, alice: Account, admin: Account, endpoint: Endpoint, params: dict[str, object]
) -> None:
    conversation = await client.post("/conversations", json={}, headers=alice.headers)
    path = endpoint.path.format(conversation_id=conversation.json()["id"], user_id=alice.id)
    caller = admin if endpoint.admin else alice  # a user's call to an admin route is a 403 first

    response = await client.request(endpoint.method, path, params=params, headers=caller.headers)

    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["detail"]] == [["query", *params]]
