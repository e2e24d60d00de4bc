"""The audit trail of admin actions, and admins reading a student's conversations (ADMIN_CHAT_ACCESS)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.utils.api import Account, change_settings


async def _audit(client: httpx.AsyncClient, admin: Account, query: str = "") -> dict:  # type: ignore[type-arg]
    response = await client.get(f"/users/audit{query}", headers=admin.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_every_admin_action_is_recorded_newest_first_without_secrets(
    client: httpx.AsyncClient, admin: Account, alice: Account, bob: Account
) -> None:
    headers = admin.headers
    await client.patch(f"/users/{alice.id}", json={"is_active": False}, headers=headers)
    await client.patch(f"/users/{alice.id}", json={"is_active": True, "credits": 700}, headers=headers)
    await client.post(
        f"/users/{alice.id}/password", json={"new_password": "secret reset pw"}, headers=headers
    )
    imported = await client.post(
        "/users/import", content=b"email\nnew@lycee.fr\n", headers={**headers, "Content-Type": "text/csv"}
    )
    generated = imported.json()["created"][0]["password"]
    await client.get(f"/users/{bob.id}/conversations", headers=headers)
    await client.delete(f"/users/{bob.id}", headers=headers)

    trail = await _audit(client, admin)

    actions = [(item["action"], item["target_email"]) for item in trail["items"]]
    assert actions == [
        ("delete", bob.email),
        ("read_conversations", bob.email),
        ("import", "new@lycee.fr"),
        ("password_reset", alice.email),
        ("credits", alice.email),
        ("reactivate", alice.email),
        ("deactivate", alice.email),
    ]
    assert trail["total"] == 7
    assert {(item["actor_id"], item["actor_email"]) for item in trail["items"]} == {(admin.id, admin.email)}
    assert trail["items"][4]["detail"] == "credits unlimited -> 700"
    assert trail["items"][0]["target_id"] == bob.id
    text = str(trail)
    for secret in ("secret reset pw", generated, admin.token, alice.password, "$2b$"):
        assert secret not in text

    page = await _audit(client, admin, "?limit=2&offset=1")
    assert [item["action"] for item in page["items"]] == ["read_conversations", "import"]
    assert page["total"] == 7


async def test_a_refused_action_is_not_recorded(client: httpx.AsyncClient, admin: Account) -> None:
    await client.patch(f"/users/{admin.id}", json={"is_active": False}, headers=admin.headers)
    await client.patch(f"/users/usr_{'0' * 32}", json={"credits": 3}, headers=admin.headers)
    assert (await _audit(client, admin))["total"] == 0


async def test_admins_read_a_students_conversations_as_the_student_sees_them(
    client: httpx.AsyncClient, admin: Account, alice: Account
) -> None:
    turn = (await client.post("/ai/chat", json={"message": "my homework"}, headers=alice.headers)).json()
    conversation_id = turn["conversation_id"]

    as_admin = await client.get(f"/users/{alice.id}/conversations", headers=admin.headers)
    as_alice = await client.get("/conversations", headers=alice.headers)
    assert as_admin.status_code == 200
    assert as_admin.json() == as_alice.json()
    history = await client.get(f"/users/{alice.id}/history/{conversation_id}", headers=admin.headers)
    assert history.json() == (await client.get(f"/history/{conversation_id}", headers=alice.headers)).json()

    assert (
        await client.get(f"/users/{alice.id}/history/conv_nope", headers=admin.headers)
    ).status_code == 404
    assert (
        await client.get(f"/users/usr_{'0' * 32}/conversations", headers=admin.headers)
    ).status_code == 404
    trail = await _audit(client, admin)
    assert [(item["action"], item["target_id"]) for item in trail["items"]] == [
        ("read_history", alice.id),
        ("read_conversations", alice.id),
    ]
    assert conversation_id in trail["items"][0]["detail"]


async def test_with_admin_chat_access_off_the_reads_are_403(
    client: httpx.AsyncClient, app: FastAPI, admin: Account, alice: Account
) -> None:
    turn = (await client.post("/ai/chat", json={"message": "private"}, headers=alice.headers)).json()
    change_settings(app, admin_chat_access=False)
    for path in (f"/users/{alice.id}/conversations", f"/users/{alice.id}/history/{turn['conversation_id']}"):
        response = await client.get(path, headers=admin.headers)
        assert response.status_code == 403 and "ADMIN_CHAT_ACCESS" in response.text
    assert (await _audit(client, admin))["total"] == 0
