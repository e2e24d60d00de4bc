"""What an admin does to accounts: list with filters and figures, change, deactivate, reset a password."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.utils.api import Account, sign_up
from tests.utils.records import stored_state

DISABLED = "This account is disabled."


async def _patch(client: httpx.AsyncClient, admin: Account, user_id: str, body: object) -> httpx.Response:
    return await client.patch(f"/users/{user_id}", json=body, headers=admin.headers)


async def test_list_pages_with_total_and_filters(client: httpx.AsyncClient, admin: Account) -> None:
    students = [await sign_up(client, f"student{n}@lycee.fr") for n in range(4)]
    await _patch(client, admin, students[1].id, {"is_active": False, "name": "Zoé Martin"})

    first = (await client.get("/users?limit=2&offset=0", headers=admin.headers)).json()
    second = (await client.get("/users?limit=2&offset=2", headers=admin.headers)).json()
    assert first["total"] == second["total"] == 5
    assert [item["id"] for item in first["items"] + second["items"]] == [admin.id] + [
        s.id for s in students[:3]
    ]

    lycee = (await client.get("/users?q=LYCEE", headers=admin.headers)).json()
    assert lycee["total"] == 4
    by_name = (await client.get("/users?q=zoé", headers=admin.headers)).json()
    assert [item["id"] for item in by_name["items"]] == [students[1].id]
    inactive = (await client.get("/users?active=false", headers=admin.headers)).json()
    assert [item["id"] for item in inactive["items"]] == [students[1].id]
    assert inactive["items"][0]["is_active"] is False
    active = (await client.get("/users?active=true", headers=admin.headers)).json()
    assert active["total"] == 4
    percent = (await client.get("/users?q=%25", headers=admin.headers)).json()  # LIKE's wildcard, literally
    assert percent["total"] == 0


async def test_list_items_carry_the_figures(
    client: httpx.AsyncClient, admin: Account, alice: Account
) -> None:
    for text in ("one", "two"):
        assert (
            await client.post("/ai/chat", json={"message": text}, headers=alice.headers)
        ).status_code == 200
    items = (await client.get("/users", headers=admin.headers)).json()["items"]
    mine = next(item for item in items if item["id"] == alice.id)
    # The values come at merge from the stats and usage seams (services/admin.py, `# MERGE`).
    assert {"conversations", "messages", "total_tokens"} <= set(mine)
    assert all(isinstance(mine[name], int) for name in ("conversations", "messages", "total_tokens"))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/users"),
        ("GET", "/users/audit"),
        ("PATCH", "/users/{id}"),
        ("POST", "/users/{id}/password"),
        ("POST", "/users/import"),
        ("DELETE", "/users/{id}"),
        ("GET", "/users/{id}/conversations"),
        ("GET", "/users/{id}/history/conv_x"),
    ],
)
async def test_admin_routes_are_403_for_a_user(
    client: httpx.AsyncClient, alice: Account, bob: Account, method: str, path: str
) -> None:
    response = await client.request(method, path.format(id=bob.id), headers=alice.headers, json={})
    assert response.status_code == 403, response.text


async def test_patch_sets_name_and_credits_and_refuses_role(
    client: httpx.AsyncClient, admin: Account, alice: Account
) -> None:
    response = await _patch(client, admin, alice.id, {"name": "Alice L.", "credits": 500})
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["credits"]) == ("Alice L.", 500)
    me = (await client.get("/auth/me", headers=alice.headers)).json()
    assert (me["name"], me["credits"]) == ("Alice L.", 500)

    assert (await _patch(client, admin, alice.id, {"credits": None})).json()["credits"] is None
    for refused in (
        {"role": "admin"},
        {"credits": -1},
        {"is_active": "maybe"},
        {"name": "a\nb"},
        {"role": "user"},
    ):
        assert (await _patch(client, admin, alice.id, refused)).status_code == 422, refused
    ignored = await _patch(client, admin, alice.id, {"email": "x@y.fr", "token_generation": 7})
    assert ignored.status_code == 200 and ignored.json()["email"] == alice.email
    assert (await client.get("/auth/me", headers=alice.headers)).status_code == 200
    assert (await client.get("/auth/me", headers=alice.headers)).json()["role"] == "user"


async def test_patch_of_an_unknown_user_is_404(client: httpx.AsyncClient, admin: Account) -> None:
    assert (await _patch(client, admin, "usr_" + "0" * 32, {"credits": 5})).status_code == 404


async def test_an_admin_cannot_deactivate_or_delete_themselves(
    client: httpx.AsyncClient, app: FastAPI, admin: Account
) -> None:
    before = stored_state(app.state.context.database)
    assert (await _patch(client, admin, admin.id, {"is_active": False})).status_code == 409
    assert (await client.delete(f"/users/{admin.id}", headers=admin.headers)).status_code == 409
    assert stored_state(app.state.context.database) == before
    assert (await _patch(client, admin, admin.id, {"name": "Teacher"})).status_code == 200


async def test_deactivation_refuses_tokens_at_once_and_for_good(
    client: httpx.AsyncClient, admin: Account, alice: Account
) -> None:
    assert (await _patch(client, admin, alice.id, {"is_active": False})).status_code == 200

    refused = await client.get("/auth/me", headers=alice.headers)
    assert refused.status_code == 401 and refused.json()["detail"] == DISABLED
    chat = await client.post("/ai/chat", json={"message": "hi"}, headers=alice.headers)
    assert chat.status_code == 401
    right = await client.post("/auth/login", json={"email": alice.email, "password": alice.password})
    assert right.status_code == 403 and right.json()["detail"] == DISABLED
    wrong = await client.post("/auth/login", json={"email": alice.email, "password": "wrong password"})
    assert wrong.status_code == 401 and DISABLED not in wrong.text

    assert (await _patch(client, admin, alice.id, {"is_active": True})).status_code == 200
    still = await client.get("/auth/me", headers=alice.headers)
    assert still.status_code == 401 and still.json()["detail"] != DISABLED
    login = await client.post("/auth/login", json={"email": alice.email, "password": alice.password})
    assert login.status_code == 200
    fresh = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert (await client.get("/auth/me", headers=fresh)).status_code == 200


async def test_password_reset_sets_it_and_revokes_tokens(
    client: httpx.AsyncClient, admin: Account, alice: Account
) -> None:
    response = await client.post(
        f"/users/{alice.id}/password", json={"new_password": "given by the teacher"}, headers=admin.headers
    )
    assert response.status_code == 204
    assert (await client.get("/auth/me", headers=alice.headers)).status_code == 401
    old = await client.post("/auth/login", json={"email": alice.email, "password": alice.password})
    assert old.status_code == 401
    new = await client.post("/auth/login", json={"email": alice.email, "password": "given by the teacher"})
    assert new.status_code == 200
    unknown = await client.post(
        f"/users/usr_{'0' * 32}/password", json={"new_password": "long enough"}, headers=admin.headers
    )
    assert unknown.status_code == 404
    short = await client.post(
        f"/users/{alice.id}/password", json={"new_password": "short"}, headers=admin.headers
    )
    assert short.status_code == 422
