"""OWASP API1 and API5 over the app's own route table: a route added later is attacked automatically.

For every route that takes an object id, another user's object answers exactly like an unknown
one; every admin route refuses a plain user; every protected route refuses each bad token. In
every case the whole database and the upstream are left untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from BackEnd.storage import Dump
from tests.utils.api import Account, FakeUpstream, sign_up
from tests.utils.routes import (
    ENDPOINTS,
    OBJECT_FACTORIES,
    UNKNOWN_IDS,
    Endpoint,
    call,
    call_as,
    objects_of,
    valid_body,
)
from tests.utils.sockets import socket
from tests.utils.tokens import alg_none, bearer, expired, other_key

PUBLIC = {"GET /", "POST /auth/register", "POST /auth/login", "POST /auth/token"}


ID_ROUTES = [endpoint for endpoint in ENDPOINTS if endpoint.id_params]
PROTECTED = [endpoint for endpoint in ENDPOINTS if endpoint.protected]
ADMIN_ONLY = [endpoint for endpoint in ENDPOINTS if endpoint.admin]


def _state(app: FastAPI, upstream: FakeUpstream) -> tuple[Dump, int]:
    """Everything an attack could change: every stored record, and the calls made upstream."""
    return app.state.context.database.export_dump(), len(upstream.requests)


async def test_route_table_is_the_documented_api_and_every_id_has_a_factory(
    app: FastAPI,
) -> None:
    operations = {
        f"{method.upper()} {path}" for path, ops in app.openapi()["paths"].items() for method in ops
    }
    assert {endpoint.name for endpoint in ENDPOINTS} == operations  # the matrix cannot silently shrink
    # A new route is protected unless it is added here on purpose.
    assert {endpoint.name for endpoint in ENDPOINTS if not endpoint.protected} == PUBLIC
    assert {endpoint.name for endpoint in ADMIN_ONLY} == {
        "GET /users",
        "DELETE /users/{user_id}",
        "GET /users/usage",
        "GET /users/{user_id}/usage",
        "GET /users/audit",
        "POST /users/import",
        "PATCH /users/{user_id}",
        "POST /users/{user_id}/password",
        "GET /users/{user_id}/conversations",
        "GET /users/{user_id}/history/{conversation_id}",
    }
    ids = {name for endpoint in ID_ROUTES for name in endpoint.id_params}
    assert ids == set(OBJECT_FACTORIES) == set(UNKNOWN_IDS), "every object id needs a factory"


@pytest.mark.parametrize("endpoint", ID_ROUTES, ids=str)
async def test_another_users_object_answers_like_an_unknown_one_and_changes_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    upstream: FakeUpstream,
    alice: Account,
    bob: Account,
    admin: Account,
    endpoint: Endpoint,
) -> None:
    bobs = await objects_of(client, endpoint, bob)
    unknown = {name: UNKNOWN_IDS[name] for name in endpoint.id_params}
    before = _state(app, upstream)

    theirs = await call_as(client, endpoint, alice, bobs)
    changed = _state(app, upstream) != before
    nobodys = await call_as(client, endpoint, alice, unknown)

    expected = 403 if endpoint.admin else 404
    assert (theirs.status_code, nobodys.status_code) == (expected, expected), theirs.text
    assert theirs.json() == nobodys.json()
    assert theirs.headers.get("content-length") == nobodys.headers.get("content-length")
    assert not changed, f"{endpoint} by another user changed stored data or called the model"
    # Control: the owner (an admin for admin routes) can do it, so these ids were real objects.
    allowed = admin if endpoint.admin else bob
    control = await call_as(client, endpoint, allowed, bobs)
    assert control.status_code < 300, control.text


@pytest.mark.parametrize("endpoint", ADMIN_ONLY, ids=str)
async def test_admin_route_answers_403_to_a_user_and_changes_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    upstream: FakeUpstream,
    alice: Account,
    bob: Account,
    admin: Account,
    endpoint: Endpoint,
) -> None:
    ids = await objects_of(client, endpoint, bob)
    before = _state(app, upstream)

    refused = await call_as(client, endpoint, alice, ids)

    assert refused.status_code == 403, refused.text
    assert refused.json()["detail"] == "This action is reserved for administrators."
    assert _state(app, upstream) == before
    allowed = await call_as(client, endpoint, admin, ids)
    assert allowed.status_code < 300, allowed.text


async def _deleted_users_token(client: httpx.AsyncClient, victim: Account) -> dict[str, str]:
    gone = await sign_up(client, "gone@example.com")
    assert (await client.delete("/users/me", headers=gone.headers)).status_code == 204
    return gone.headers


async def _forged(make: Callable[[str], str], client: httpx.AsyncClient, victim: Account) -> dict[str, str]:
    return bearer(make(victim.id))  # claims to be the victim, who does exist


async def _no_token(client: httpx.AsyncClient, victim: Account) -> dict[str, str]:
    return {}


BAD_CREDENTIALS: dict[str, Callable[[httpx.AsyncClient, Account], Awaitable[dict[str, str]]]] = {
    "no-token": _no_token,
    "expired": lambda client, victim: _forged(expired, client, victim),
    "alg-none": lambda client, victim: _forged(alg_none, client, victim),
    "other-key": lambda client, victim: _forged(other_key, client, victim),
    "deleted-user": _deleted_users_token,
}


@pytest.mark.parametrize("credentials", sorted(BAD_CREDENTIALS))
@pytest.mark.parametrize("endpoint", PROTECTED, ids=str)
async def test_protected_route_refuses_a_bad_token_with_401_and_changes_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    upstream: FakeUpstream,
    bob: Account,
    endpoint: Endpoint,
    credentials: str,
) -> None:
    headers = await BAD_CREDENTIALS[credentials](client, bob)
    ids = await objects_of(client, endpoint, bob)  # the victim's real objects
    before = _state(app, upstream)

    refused = await call(client, endpoint, headers=headers, ids=ids, body=valid_body(endpoint, bob))

    assert refused.status_code == 401, refused.text
    assert refused.headers.get("www-authenticate") == "Bearer"
    assert refused.json()["detail"] in (
        "Not authenticated.",
        "Invalid or expired token.",
    )
    assert _state(app, upstream) == before


# -- the chat WebSocket (GET /ai/ws): not in the OpenAPI table, so attacked here by hand.
SOCKET_MESSAGES = {"chat": {"type": "chat", "message": "Hello"}, "stop": {"type": "stop"}}


@pytest.mark.parametrize("kind", sorted(SOCKET_MESSAGES))
async def test_the_socket_answers_another_users_thread_like_an_unknown_one_and_changes_nothing(
    client: httpx.AsyncClient, app: FastAPI, upstream: FakeUpstream, alice: Account, bob: Account, kind: str
) -> None:
    bobs = await OBJECT_FACTORIES["conversation_id"](client, bob)
    before = _state(app, upstream)
    answers = []
    async with socket(app) as ws:
        await ws.send({"type": "auth", "token": alice.token})
        assert (await ws.receive())["type"] == "ready"
        for conversation_id in (bobs, UNKNOWN_IDS["conversation_id"]):
            await ws.send({**SOCKET_MESSAGES[kind], "request_id": 1, "conversation_id": conversation_id})
            answers.append(await ws.receive())

    assert (
        answers[0]
        == answers[1]
        == {
            "type": "error",
            "request_id": 1,
            "status": 404,
            "detail": "Conversation not found.",
        }
    )
    assert _state(app, upstream) == before


@pytest.mark.parametrize("credentials", sorted(BAD_CREDENTIALS))
async def test_the_socket_refuses_a_bad_token_with_1008_and_changes_nothing(
    client: httpx.AsyncClient, app: FastAPI, upstream: FakeUpstream, bob: Account, credentials: str
) -> None:
    headers = await BAD_CREDENTIALS[credentials](client, bob)
    token = headers.get("Authorization", "").removeprefix("Bearer ")
    before = _state(app, upstream)
    async with socket(app) as ws:
        await ws.send({"type": "auth", "token": token})
        await ws.send({"type": "chat", "message": "Hello"})
        assert await ws.closed_with() == 1008
    assert _state(app, upstream) == before
