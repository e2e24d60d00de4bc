"""Per-user size caps: MAX_CONVERSATIONS_PER_USER and MAX_MESSAGES_PER_CONVERSATION answer 409."""

from __future__ import annotations

from pathlib import Path

import pytest

from BackEnd.config import Settings
from tests.utils.api import make_settings


@pytest.fixture
def settings(data_dir: Path, database_url: str | None) -> Settings:
    """Small caps, so the tests reach them quickly: 3 threads, 4 messages (2 turns) each."""
    return make_settings(
        data_dir, database_url=database_url, max_conversations_per_user=3, max_messages_per_conversation=4
    )


async def test_conversation_beyond_the_cap_is_409_by_either_route_and_stores_nothing(
    client, upstream, alice, bob
):
    await client.post("/conversations", json={"title": "one"}, headers=alice.headers)
    await client.post("/ai/chat", json={"message": "two"}, headers=alice.headers)
    await client.post("/conversations", json={"title": "three"}, headers=alice.headers)
    asked = len(upstream.requests)

    created = await client.post("/conversations", json={"title": "four"}, headers=alice.headers)
    chatted = await client.post("/ai/chat", json={"message": "four"}, headers=alice.headers)

    for refused in (created, chatted):
        assert refused.status_code == 409, refused.text
        assert "limit of 3 conversations" in refused.json()["detail"]
    assert len(upstream.requests) == asked  # refused before the model was asked: nothing spent
    listed = (await client.get("/conversations", headers=alice.headers)).json()
    assert listed["total"] == 3
    # The cap is per user: another account is not affected.
    assert (await client.post("/conversations", json={}, headers=bob.headers)).status_code == 201


async def test_deleting_a_conversation_makes_room_again(client, alice):
    ids = [
        (await client.post("/conversations", json={}, headers=alice.headers)).json()["id"] for _ in range(3)
    ]
    assert (await client.post("/conversations", json={}, headers=alice.headers)).status_code == 409

    await client.delete(f"/conversations/{ids[0]}", headers=alice.headers)

    assert (await client.post("/conversations", json={}, headers=alice.headers)).status_code == 201


async def test_turn_that_would_pass_the_message_cap_is_409_before_the_model_is_asked(client, upstream, alice):
    first = await client.post("/ai/chat", json={"message": "one"}, headers=alice.headers)
    conversation_id = first.json()["conversation_id"]
    second = await client.post(
        "/ai/chat", json={"message": "two", "conversation_id": conversation_id}, headers=alice.headers
    )
    assert second.status_code == 200
    asked = len(upstream.requests)

    third = await client.post(
        "/ai/chat", json={"message": "three", "conversation_id": conversation_id}, headers=alice.headers
    )

    assert third.status_code == 409, third.text
    assert "limit of 4 messages" in third.json()["detail"]
    assert len(upstream.requests) == asked
    history = (await client.get(f"/history/{conversation_id}", headers=alice.headers)).json()
    assert [item["content"] for item in history["items"]] == ["one", "echo: one", "two", "echo: two"]
    # Emptying the thread makes room in it again.
    await client.delete(f"/history/{conversation_id}", headers=alice.headers)
    again = await client.post(
        "/ai/chat", json={"message": "again", "conversation_id": conversation_id}, headers=alice.headers
    )
    assert again.status_code == 200
