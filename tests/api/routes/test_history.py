"""HTTP tests of /history: reading a thread's messages in pages, clearing one thread or all."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

from tests.utils.records import stored_state, stored_text

if TYPE_CHECKING:
    from tests.conftest import Account

UNKNOWN_ID = "conv_" + "0" * 32


async def chat(
    client: httpx.AsyncClient, account: Account, message: str, conversation_id: str | None = None
) -> dict:
    response = await client.post(
        "/ai/chat", json={"message": message, "conversation_id": conversation_id}, headers=account.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def thread_with(client: httpx.AsyncClient, account: Account, *messages: str) -> str:
    """A new conversation holding one chat turn per message."""
    conversation_id = (await chat(client, account, messages[0]))["conversation_id"]
    for message in messages[1:]:
        await chat(client, account, message, conversation_id)
    return conversation_id


async def history(client: httpx.AsyncClient, account: Account, conversation_id: str, **params: int) -> dict:
    response = await client.get(f"/history/{conversation_id}", params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_history_is_chronological_with_public_fields(client, alice):
    conversation_id = await thread_with(client, alice, "un", "deux", "trois")
    page = await history(client, alice, conversation_id)
    assert (page["limit"], page["offset"], page["total"]) == (50, 0, 6)
    items = page["items"]
    assert [item["role"] for item in items] == ["user", "assistant"] * 3
    assert [item["content"] for item in items] == [
        "un",
        "echo: un",
        "deux",
        "echo: deux",
        "trois",
        "echo: trois",
    ]
    for item in items:
        assert set(item) == {"id", "conversation_id", "role", "content", "created_at"} | {
            *("model", "finish_reason", "usage", "images", "reply_to", "edited_at")
        }
        assert item["edited_at"] is None
        assert item["conversation_id"] == conversation_id
        assert item["id"].startswith("msg_")
    stamps = [item["created_at"] for item in items]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert len({item["id"] for item in items}) == 6


async def test_history_ids_match_the_chat_reply(client, alice):
    reply = await chat(client, alice, "question")
    items = (await history(client, alice, reply["conversation_id"]))["items"]
    assert [item["id"] for item in items] == [reply["user_message_id"], reply["assistant_message_id"]]
    assert items[1]["content"] == reply["answer"]
    assert (items[0]["reply_to"], items[1]["reply_to"]) == (None, reply["user_message_id"])


async def test_history_pages_with_limit_and_offset(client, alice):
    conversation_id = await thread_with(client, alice, "a", "b", "c")
    everything = [item["id"] for item in (await history(client, alice, conversation_id))["items"]]
    page = await history(client, alice, conversation_id, limit=2, offset=1)
    assert (page["limit"], page["offset"], page["total"]) == (2, 1, 6)
    assert [item["id"] for item in page["items"]] == everything[1:3]
    last = await history(client, alice, conversation_id, limit=4, offset=4)
    assert [item["id"] for item in last["items"]] == everything[4:]
    beyond = await history(client, alice, conversation_id, offset=6)
    assert beyond["items"] == [] and beyond["total"] == 6


@pytest.mark.parametrize("params", [{"limit": 201}, {"limit": 0}, {"offset": -1}, {"limit": -5}])
async def test_history_refuses_bad_paging(client, alice, params):
    conversation_id = await thread_with(client, alice, "a")
    response = await client.get(f"/history/{conversation_id}", params=params, headers=alice.headers)
    assert response.status_code == 422


async def test_history_accepts_limit_of_200(client, alice):
    conversation_id = await thread_with(client, alice, "a")
    assert (await history(client, alice, conversation_id, limit=200))["total"] == 2


async def test_history_of_empty_conversation_is_empty(client, alice):
    created = await client.post("/conversations", json={}, headers=alice.headers)
    page = await history(client, alice, created.json()["id"])
    assert page["items"] == [] and page["total"] == 0


async def test_history_of_unknown_conversation_is_not_found(client, alice):
    response = await client.get(f"/history/{UNKNOWN_ID}", headers=alice.headers)
    assert response.status_code == 404
    assert response.json() == {"detail": "Conversation not found."}
    assert (await client.delete(f"/history/{UNKNOWN_ID}", headers=alice.headers)).status_code == 404


async def test_clear_history_keeps_the_conversation_but_removes_its_messages(client, app, alice):
    conversation_id = await thread_with(client, alice, "Quokka-marker-991", "encore")
    database = app.state.context.database
    assert "echo: encore" in stored_text(database)

    response = await client.delete(f"/history/{conversation_id}", headers=alice.headers)
    assert response.status_code == 204
    assert response.content == b""
    assert "echo: encore" not in stored_text(database)

    assert (await client.get(f"/conversations/{conversation_id}", headers=alice.headers)).status_code == 200
    page = await history(client, alice, conversation_id)
    assert page["items"] == [] and page["total"] == 0


async def test_conversation_is_usable_after_clearing_its_history(client, alice, upstream):
    conversation_id = await thread_with(client, alice, "oubliez-moi")
    assert (await client.delete(f"/history/{conversation_id}", headers=alice.headers)).status_code == 204
    await chat(client, alice, "nouveau départ", conversation_id)
    page = await history(client, alice, conversation_id)
    assert [item["content"] for item in page["items"]] == ["nouveau départ", "echo: nouveau départ"]
    sent = [message["content"] for message in upstream.bodies[-1]["messages"]]
    assert "oubliez-moi" not in sent


async def test_delete_all_history_removes_every_conversation_of_the_caller_only(client, app, alice, bob):
    alice_threads = [
        await thread_with(client, alice, "alice-un"),
        await thread_with(client, alice, "alice-deux"),
    ]
    await client.post("/conversations", json={"title": "vide"}, headers=alice.headers)
    bob_thread = await thread_with(client, bob, "bob-message")

    response = await client.delete("/history", headers=alice.headers)
    assert response.status_code == 204
    listing = (await client.get("/conversations", headers=alice.headers)).json()
    assert listing["items"] == [] and listing["total"] == 0
    stored = stored_text(app.state.context.database)
    for conversation_id in alice_threads:
        assert conversation_id not in stored
        assert (await client.get(f"/history/{conversation_id}", headers=alice.headers)).status_code == 404
    assert "alice-" not in stored
    assert bob_thread in stored and "bob-message" in stored
    assert (await history(client, bob, bob_thread))["total"] == 2
    assert (await client.get("/conversations", headers=bob.headers)).json()["total"] == 1


async def test_delete_all_history_then_start_again(client, alice):
    await thread_with(client, alice, "avant")
    assert (await client.delete("/history", headers=alice.headers)).status_code == 204
    assert (await client.delete("/history", headers=alice.headers)).status_code == 204
    conversation_id = await thread_with(client, alice, "après")
    listing = (await client.get("/conversations", headers=alice.headers)).json()
    assert [item["id"] for item in listing["items"]] == [conversation_id]


async def test_reading_other_users_history_looks_like_unknown(client, alice, bob):
    conversation_id = await thread_with(client, alice, "confidentiel")
    foreign = await client.get(f"/history/{conversation_id}", headers=bob.headers)
    unknown = await client.get(f"/history/{UNKNOWN_ID}", headers=bob.headers)
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json() == unknown.json()
    assert "confidentiel" not in foreign.text


async def test_clearing_other_users_history_looks_like_unknown_and_changes_nothing(client, app, alice, bob):
    conversation_id = await thread_with(client, alice, "à garder")
    before = await history(client, alice, conversation_id)
    stored_before = stored_state(app.state.context.database)

    foreign = await client.delete(f"/history/{conversation_id}", headers=bob.headers)
    unknown = await client.delete(f"/history/{UNKNOWN_ID}", headers=bob.headers)
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json() == unknown.json()
    assert (await client.delete("/history", headers=bob.headers)).status_code == 204

    assert stored_state(app.state.context.database) == stored_before
    assert await history(client, alice, conversation_id) == before
    assert (await client.get("/conversations", headers=alice.headers)).json()["total"] == 1


@pytest.mark.parametrize("raw_id", ["..%2Fusers", "%2E%2E", "..%5C..%5Cusers", "users.json"])
async def test_history_path_traversal_ids_are_not_found(client, app, alice, raw_id):
    before = stored_state(app.state.context.database)
    for method in ("GET", "DELETE"):
        response = await client.request(method, f"/history/{raw_id}", headers=alice.headers)
        assert response.status_code == 404, (method, response.text)
    assert stored_state(app.state.context.database) == before


async def test_history_routes_require_authentication(client, alice):
    conversation_id = await thread_with(client, alice, "protégé")
    for method, path in (
        ("GET", f"/history/{conversation_id}"),
        ("DELETE", f"/history/{conversation_id}"),
        ("DELETE", "/history"),
    ):
        response = await client.request(method, path)
        assert response.status_code == 401, (method, path)
        assert response.headers["WWW-Authenticate"] == "Bearer"
        bad_token = await client.request(method, path, headers={"Authorization": "Bearer not-a-token"})
        assert bad_token.status_code == 401, (method, path)
    assert (await history(client, alice, conversation_id))["total"] == 2
