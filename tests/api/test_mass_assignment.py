"""OWASP API3: privileged fields in any request body are ignored or refused; no hash ever leaves.

The `client` fixture also fails any test whose response mentions `password_hash`
(`refuse_password_hash` in tests/utils/api.py), so every test of the suite checks that too.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from BackEnd.storage import Dump
from tests.utils.api import Account, refuse_password_hash
from tests.utils.routes import ENDPOINTS, Endpoint, call, objects_of, valid_body

FAKE_HASH = "$2b$04$injectedinjectedinjectedinjectedinjectedinjectedinjec"
EPOCH = "1970-01-01T00:00:00.000000Z"
BODY_ROUTES = [endpoint for endpoint in ENDPOINTS if endpoint.body_model is not None]


# The most harmful value an attacker could put in each privileged field: admin, the victim's
# account or thread id (to overwrite it, or to act as the victim), a hash of their own, a date.
INJECTIONS: dict[str, Callable[[Account, str], tuple[str, str]]] = {
    "role-admin": lambda victim, thread: ("role", "admin"),
    "id-of-victims-account": lambda victim, thread: ("id", victim.id),
    "id-of-victims-thread": lambda victim, thread: ("id", thread),
    "user_id-of-victim": lambda victim, thread: ("user_id", victim.id),
    "password_hash": lambda victim, thread: ("password_hash", FAKE_HASH),
    "created_at": lambda victim, thread: ("created_at", EPOCH),
}


def _records_of(dump: Dump, user_id: str) -> list[object]:
    return [
        record
        for records in (dump.users, dump.conversations, dump.messages)
        for record in records
        if user_id in (record.get("id"), record.get("user_id"))
    ]


@pytest.mark.parametrize("injection", sorted(INJECTIONS))
@pytest.mark.parametrize("endpoint", BODY_ROUTES, ids=str)
async def test_privileged_field_in_a_body_is_refused_or_ignored(
    client: httpx.AsyncClient,
    app: FastAPI,
    alice: Account,
    bob: Account,
    admin: Account,
    endpoint: Endpoint,
    injection: str,
) -> None:
    victims_thread = (await client.post("/ai/chat", json={"message": "bob's"}, headers=bob.headers)).json()
    victims_thread = victims_thread["conversation_id"]
    ids = await objects_of(client, endpoint, alice)  # the attacker's own objects: a legitimate call
    body = valid_body(endpoint, alice)
    assert body is not None
    field, value = INJECTIONS[injection](bob, victims_thread)
    database = app.state.context.database
    before = database.export_dump()

    caller = admin if endpoint.admin else alice  # an admin route's body, sent by an admin about alice
    response = await call(client, endpoint, headers=caller.headers, ids=ids, body={**body, field: value})

    assert response.status_code == 422 or response.is_success, response.text
    after = database.export_dump()
    stored = json.dumps([after.users, after.conversations, after.messages])
    assert FAKE_HASH not in stored and EPOCH not in stored
    roles = {user["id"]: user["role"] for user in before.users}  # the admin fixture's is one
    assert all(user["role"] == roles.get(user["id"], "user") for user in after.users), "someone became admin"
    assert _records_of(after, bob.id) == _records_of(before, bob.id), "the victim's data changed"
    if field != "role":  # "admin" is a plain word; an id, hash or date must not come back
        assert value not in response.text


async def test_hook_fails_a_response_that_carries_a_password_hash() -> None:
    request = httpx.Request("GET", "http://testserver/users")
    leaked = httpx.Response(200, json={"items": [{"password_hash": FAKE_HASH}]}, request=request)
    with pytest.raises(AssertionError, match="leaked"):
        await refuse_password_hash(leaked)


REVOKING = {"POST /auth/me/password", "POST /auth/logout-all"}


def _last_the_destructive(endpoint: Endpoint) -> tuple[bool, bool]:
    return endpoint.method == "DELETE", endpoint.path == "/users/me"


async def test_every_route_answers_successfully_without_any_password_hash(
    client: httpx.AsyncClient, admin: Account, bob: Account
) -> None:
    # An admin sees the most: every account in GET /users, and may delete bob.
    seen = set()
    for endpoint in sorted(ENDPOINTS, key=_last_the_destructive):
        owner = bob if endpoint.path.startswith("/users/{user_id}") else admin
        ids = await objects_of(client, endpoint, owner)
        body = valid_body(endpoint, admin)
        response = await call(client, endpoint, headers=admin.headers, ids=ids, body=body)
        assert response.is_success, f"{endpoint}: {response.text}"
        assert "password_hash" not in response.text
        seen.add(endpoint.name)
        if endpoint.name in REVOKING:  # the admin's token no longer works: sign in again
            admin.password = body["new_password"] if body else admin.password
            login = await client.post("/auth/login", json={"email": admin.email, "password": admin.password})
            admin.token = login.json()["access_token"]
    assert seen == {endpoint.name for endpoint in ENDPOINTS}
    openapi = await client.get("/openapi.json")
    assert "password_hash" not in openapi.text
