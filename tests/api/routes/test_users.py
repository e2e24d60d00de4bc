"""HTTP tests of /users: the admin listing, self-deletion and admin deletion with its cascade."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.utils.api import Account
from tests.utils.records import stored_state, stored_text

BOB_SECRET = "bob's very private question about zebras 7f3c"


def _mentioned(app: FastAPI, *needles: str) -> list[str]:
    """Which of the needles the database still holds anywhere but in the audit trail (which
    records whom an admin deleted: tests/api/routes/test_audit.py)."""
    stored = stored_text(app.state.context.database, audit=False)
    return [needle for needle in needles if needle in stored]


async def _give_history(client: httpx.AsyncClient, account: Account, message: str) -> tuple[str, str]:
    """One empty conversation and one with a chat turn; returns both ids."""
    empty = await client.post("/conversations", json={"title": "empty thread"}, headers=account.headers)
    assert empty.status_code == 201, empty.text
    turn = await client.post("/ai/chat", json={"message": message}, headers=account.headers)
    assert turn.status_code == 200, turn.text
    return empty.json()["id"], turn.json()["conversation_id"]


# -- listing ----------------------------------------------------------------------------


async def test_list_users_as_admin(
    client: httpx.AsyncClient, admin: Account, alice: Account, bob: Account
) -> None:
    response = await client.get("/users", headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"items", "limit", "offset", "total"}
    by_id = {item["id"]: item for item in body["items"]}
    assert set(by_id) == {admin.id, alice.id, bob.id}
    assert by_id[admin.id]["role"] == "admin"
    assert by_id[alice.id]["role"] == by_id[bob.id]["role"] == "user"
    for item in body["items"]:
        assert set(item) == {
            *("id", "email", "name", "role", "created_at", "is_active", "last_login_at", "credits"),
            *("conversations", "messages", "total_tokens"),
        }
    assert "password_hash" not in response.text
    assert "$2b$" not in response.text


async def test_list_users_as_non_admin_is_403(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.get("/users", headers=alice.headers)
    assert response.status_code == 403, response.text
    assert "alice@example.com" not in response.text


async def test_list_users_without_token_is_401(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.get("/users")
    assert response.status_code == 401
    assert response.headers.get("www-authenticate") == "Bearer"
    assert alice.email not in response.text


# -- deleting one's own account -----------------------------------------------------------


async def test_delete_me_removes_account(client: httpx.AsyncClient, alice: Account, bob: Account) -> None:
    response = await client.delete("/users/me", headers=alice.headers)
    assert response.status_code == 204
    assert response.content == b""

    login = await client.post("/auth/login", json={"email": alice.email, "password": alice.password})
    assert login.status_code == 401
    assert (await client.get("/auth/me", headers=alice.headers)).status_code == 401
    assert (await client.delete("/users/me", headers=alice.headers)).status_code == 401
    # Other accounts are untouched.
    assert (await client.get("/auth/me", headers=bob.headers)).status_code == 200


async def test_delete_me_without_token_is_401(client: httpx.AsyncClient, alice: Account) -> None:
    assert (await client.delete("/users/me")).status_code == 401
    assert (await client.get("/auth/me", headers=alice.headers)).status_code == 200


async def test_delete_me_cascades_to_conversations_and_messages(
    client: httpx.AsyncClient, app: FastAPI, alice: Account
) -> None:
    empty_id, chat_id = await _give_history(client, alice, "alice's thread")
    everything = (alice.id, chat_id, empty_id, "alice's thread")
    assert _mentioned(app, *everything) == list(everything)

    assert (await client.delete("/users/me", headers=alice.headers)).status_code == 204

    assert _mentioned(app, *everything) == []


# -- admin deletion -----------------------------------------------------------------------


async def test_admin_delete_user_erases_all_their_data(
    client: httpx.AsyncClient, app: FastAPI, admin: Account, alice: Account, bob: Account
) -> None:
    empty_id, chat_id = await _give_history(client, bob, BOB_SECRET)
    alice_conv = await _give_history(client, alice, "alice keeps this")
    # The setup really stored bob's data, so the final check can fail.
    assert _mentioned(app, BOB_SECRET, bob.id) == [BOB_SECRET, bob.id]

    response = await client.delete(f"/users/{bob.id}", headers=admin.headers)
    assert response.status_code == 204, response.text

    assert _mentioned(app, BOB_SECRET, bob.id, bob.email, chat_id, empty_id) == []
    assert (await client.get("/auth/me", headers=bob.headers)).status_code == 401
    login = await client.post("/auth/login", json={"email": bob.email, "password": bob.password})
    assert login.status_code == 401
    listing = await client.get("/users", headers=admin.headers)
    assert bob.id not in {item["id"] for item in listing.json()["items"]}

    # Alice's data survives.
    history = await client.get(f"/history/{alice_conv[1]}", headers=alice.headers)
    assert history.status_code == 200
    assert [m["content"] for m in history.json()["items"]][0] == "alice keeps this"
    threads = await client.get("/conversations", headers=alice.headers)
    assert threads.json()["total"] == 2


async def test_admin_delete_unknown_user_is_404(
    client: httpx.AsyncClient, admin: Account, alice: Account
) -> None:
    for user_id in ("usr_" + "0" * 32, "not-an-id", "usr_"):
        response = await client.delete(f"/users/{user_id}", headers=admin.headers)
        assert response.status_code == 404, (user_id, response.text)
    listing = await client.get("/users", headers=admin.headers)
    assert {item["id"] for item in listing.json()["items"]} == {admin.id, alice.id}


async def test_admin_delete_twice_is_404_the_second_time(
    client: httpx.AsyncClient, admin: Account, bob: Account
) -> None:
    assert (await client.delete(f"/users/{bob.id}", headers=admin.headers)).status_code == 204
    assert (await client.delete(f"/users/{bob.id}", headers=admin.headers)).status_code == 404


async def test_non_admin_delete_other_user_is_403_and_deletes_nothing(
    client: httpx.AsyncClient, app: FastAPI, alice: Account, bob: Account
) -> None:
    empty_id, chat_id = await _give_history(client, alice, "alice must keep this")
    before = stored_state(app.state.context.database)

    response = await client.delete(f"/users/{alice.id}", headers=bob.headers)
    assert response.status_code == 403, response.text
    unknown = await client.delete("/users/usr_" + "0" * 32, headers=bob.headers)
    assert unknown.status_code == 403

    assert (await client.get("/auth/me", headers=alice.headers)).status_code == 200
    assert (await client.get("/auth/me", headers=bob.headers)).status_code == 200
    assert stored_state(app.state.context.database) == before
    history = await client.get(f"/history/{chat_id}", headers=alice.headers)
    assert history.json()["total"] == 2


async def test_delete_user_without_token_is_401(client: httpx.AsyncClient, alice: Account) -> None:
    assert (await client.delete(f"/users/{alice.id}")).status_code == 401
    assert (await client.get("/auth/me", headers=alice.headers)).status_code == 200


async def test_admin_can_delete_themselves_via_me(
    client: httpx.AsyncClient, admin: Account, alice: Account
) -> None:
    assert (await client.delete("/users/me", headers=admin.headers)).status_code == 204
    assert (await client.get("/users", headers=admin.headers)).status_code == 401
    assert (await client.get("/auth/me", headers=alice.headers)).status_code == 200


# -- users.json edited by hand while the server runs ------------------------------------


@pytest.mark.parametrize("backend", ["tinydb"])  # users.json is a TinyDB file
async def test_hand_promotion_in_users_json_applies_to_the_next_request_and_survives_writes(
    client: httpx.AsyncClient, alice: Account, data_dir: Path
) -> None:
    assert (await client.get("/users", headers=alice.headers)).status_code == 403
    users_json = data_dir / "users.json"
    text = users_json.read_text(encoding="utf-8")
    assert text.count('"role": "user"') == 1
    users_json.write_text(text.replace('"role": "user"', '"role": "admin"'), encoding="utf-8")  # in place

    assert (await client.get("/users", headers=alice.headers)).status_code == 200  # same token
    registered = await client.post(
        "/auth/register", json={"email": "carol@example.com", "password": "long enough"}
    )
    assert registered.status_code == 201

    roles = {
        user["email"]: user["role"]
        for user in (await client.get("/users", headers=alice.headers)).json()["items"]
    }
    assert roles == {"alice@example.com": "admin", "carol@example.com": "user"}
    assert '"role": "admin"' in users_json.read_text(encoding="utf-8")  # the server's write kept the edit
