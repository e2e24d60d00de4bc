"""The caller's own account: its classroom fields, password change, logging out everywhere."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.utils.api import Account
from tests.utils.records import stored_state

NEW_PASSWORD = "a brand new one"


async def test_me_shows_the_classroom_fields_and_the_last_login(
    client: httpx.AsyncClient, alice: Account
) -> None:
    me = (await client.get("/auth/me", headers=alice.headers)).json()
    assert me["is_active"] is True
    assert me["credits"] is None
    first_login = me["last_login_at"]
    assert first_login is not None  # sign_up logged in

    await client.post("/auth/login", json={"email": alice.email, "password": alice.password})
    again = (await client.get("/auth/me", headers=alice.headers)).json()
    assert again["last_login_at"] > first_login


async def test_a_new_account_has_no_last_login(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/auth/register", json={"email": "new@example.com", "password": "long enough"}
    )
    assert created.json()["last_login_at"] is None


async def test_password_change_returns_a_fresh_token_and_refuses_older_ones(
    client: httpx.AsyncClient, alice: Account
) -> None:
    second = await client.post("/auth/login", json={"email": alice.email, "password": alice.password})
    older_tokens = [alice.token, second.json()["access_token"]]

    response = await client.post(
        "/auth/me/password",
        json={"current_password": alice.password, "new_password": NEW_PASSWORD},
        headers=alice.headers,
    )

    assert response.status_code == 200, response.text
    assert set(response.json()) == {"access_token", "token_type", "expires_in"}
    fresh = {"Authorization": f"Bearer {response.json()['access_token']}"}
    assert (await client.get("/auth/me", headers=fresh)).status_code == 200
    for token in older_tokens:
        refused = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401
    old_login = await client.post("/auth/login", json={"email": alice.email, "password": alice.password})
    assert old_login.status_code == 401
    new_login = await client.post("/auth/login", json={"email": alice.email, "password": NEW_PASSWORD})
    assert new_login.status_code == 200


async def test_a_wrong_current_password_is_403_and_changes_nothing(
    client: httpx.AsyncClient, app: FastAPI, alice: Account
) -> None:
    before = stored_state(app.state.context.database)
    response = await client.post(
        "/auth/me/password",
        json={"current_password": "not the password", "new_password": NEW_PASSWORD},
        headers=alice.headers,
    )
    assert response.status_code == 403
    assert stored_state(app.state.context.database) == before
    assert (await client.get("/auth/me", headers=alice.headers)).status_code == 200


async def test_a_too_short_new_password_is_422(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.post(
        "/auth/me/password",
        json={"current_password": alice.password, "new_password": "short"},
        headers=alice.headers,
    )
    assert response.status_code == 422


async def test_logout_all_refuses_every_token_so_far_but_a_new_login_works(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    assert (await client.post("/auth/logout-all", headers=alice.headers)).status_code == 204

    assert (await client.get("/auth/me", headers=alice.headers)).status_code == 401
    assert (await client.get("/auth/me", headers=bob.headers)).status_code == 200  # only the caller's
    login = await client.post("/auth/login", json={"email": alice.email, "password": alice.password})
    fresh = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert (await client.get("/auth/me", headers=fresh)).status_code == 200


async def test_the_new_routes_need_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.post("/auth/logout-all")).status_code == 401
    body = {"current_password": "x" * 8, "new_password": "y" * 8}
    assert (await client.post("/auth/me/password", json=body)).status_code == 401
