"""HTTP tests of issue 11 part 4: fork, and the caller's stats kept up to date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from tests.conftest import Account


async def turn(
    client: httpx.AsyncClient, who: Account, message: str, conversation_id: str | None = None
) -> dict[str, Any]:
    answered = await client.post(
        "/ai/chat", json={"message": message, "conversation_id": conversation_id}, headers=who.headers
    )
    assert answered.status_code == 200, answered.text
    return dict(answered.json())


async def history(client: httpx.AsyncClient, who: Account, conversation_id: str) -> list[dict[str, Any]]:
    page = await client.get(f"/history/{conversation_id}", params={"limit": 100}, headers=who.headers)
    assert page.status_code == 200, page.text
    return list(page.json()["items"])


async def stats(client: httpx.AsyncClient, who: Account) -> dict[str, Any]:
    answer = await client.get("/auth/me/stats", headers=who.headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_fork_copies_every_message_with_new_ids_and_original_times(client, alice):
    first = await turn(client, alice, "one")
    await turn(client, alice, "two", first["conversation_id"])
    original = await history(client, alice, first["conversation_id"])

    forked = await client.post(
        f"/conversations/{first['conversation_id']}/fork", json={}, headers=alice.headers
    )

    assert forked.status_code == 201, forked.text
    fork = forked.json()
    assert fork["title"] == "one (copie)" and fork["id"] != first["conversation_id"]
    assert (fork["message_count"], fork["preview"]) == (4, "echo: two")
    copies = await history(client, alice, fork["id"])
    strip = lambda items: [(m["role"], m["content"], m["created_at"]) for m in items]  # noqa: E731
    assert strip(copies) == strip(original)
    assert not {m["id"] for m in copies} & {m["id"] for m in original}
    assert {m["conversation_id"] for m in copies} == {fork["id"]}
    assert await history(client, alice, first["conversation_id"]) == original  # the source is untouched
    listed = (await client.get("/conversations", headers=alice.headers)).json()
    assert listed["items"][0]["id"] == fork["id"] and listed["total"] == 2
    # Chat goes on in the fork as in any thread.
    await turn(client, alice, "three", fork["id"])
    assert len(await history(client, alice, fork["id"])) == 6


async def test_fork_up_to_a_message_and_404_for_a_message_of_another_thread(client, alice):
    first = await turn(client, alice, "one")
    await turn(client, alice, "two", first["conversation_id"])
    other = await turn(client, alice, "elsewhere")
    url = f"/conversations/{first['conversation_id']}/fork"

    upto = await client.post(url, json={"message_id": first["assistant_message_id"]}, headers=alice.headers)
    assert upto.status_code == 201
    assert [m["content"] for m in await history(client, alice, upto.json()["id"])] == ["one", "echo: one"]

    for foreign in (other["user_message_id"], "msg_" + "0" * 32):
        refused = await client.post(url, json={"message_id": foreign}, headers=alice.headers)
        assert refused.status_code == 404, refused.text
    assert (await client.get("/conversations", headers=alice.headers)).json()["total"] == 3


async def test_fork_of_an_empty_thread_and_of_a_long_title(client, alice):
    made = await client.post("/conversations", json={"title": "x" * 200}, headers=alice.headers)
    forked = await client.post(f"/conversations/{made.json()['id']}/fork", headers=alice.headers)
    assert forked.status_code == 201, forked.text
    assert forked.json()["title"] == "x" * 192 + " (copie)" and forked.json()["message_count"] == 0


async def test_stats_start_at_zero_with_thirty_zero_days(client, alice):
    figures = await stats(client, alice)
    today = datetime.now(UTC).date()
    assert {key: value for key, value in figures.items() if key != "by_day"} == {
        "conversations": 0,
        "messages": 0,
        "favorites": 0,
        "archived": 0,
        "folders": 0,
        "tags": 0,
        "first_message_at": None,
        "last_message_at": None,
    }
    assert [day["date"] for day in figures["by_day"]] == [
        (today - timedelta(days=back)).isoformat() for back in range(29, -1, -1)
    ]
    assert {day["messages"] for day in figures["by_day"]} == {0}


async def test_stats_follow_turns_organising_deletes_and_forks(client, alice, bob):
    first = await turn(client, alice, "one")
    second = await turn(client, alice, "two")
    await turn(client, alice, "three", second["conversation_id"])
    await turn(client, bob, "bob's")
    await client.patch(
        f"/conversations/{first['conversation_id']}",
        json={"is_favorite": True, "folder": "Maths", "tags": ["a", "b"]},
        headers=alice.headers,
    )
    await client.patch(
        f"/conversations/{second['conversation_id']}",
        json={"archived": True, "folder": "Maths", "tags": ["b"]},
        headers=alice.headers,
    )
    messages = await history(client, alice, first["conversation_id"]) + await history(
        client, alice, second["conversation_id"]
    )
    figures = await stats(client, alice)
    assert {
        key: figures[key] for key in ("conversations", "messages", "favorites", "archived", "folders", "tags")
    } == {
        "conversations": 2,
        "messages": 6,
        "favorites": 1,
        "archived": 1,
        "folders": 1,
        "tags": 2,
    }
    assert figures["first_message_at"] == min(m["created_at"] for m in messages)
    assert figures["last_message_at"] == max(m["created_at"] for m in messages)
    days = {day["date"]: day["messages"] for day in figures["by_day"]}
    assert days == {
        **dict.fromkeys(days, 0),
        **{m["created_at"][:10]: days[m["created_at"][:10]] for m in messages},
    }
    assert sum(days.values()) == 6

    await client.post(f"/conversations/{second['conversation_id']}/fork", headers=alice.headers)
    assert (await stats(client, alice))["messages"] == 10
    await client.delete(f"/conversations/{first['conversation_id']}", headers=alice.headers)
    after = await stats(client, alice)
    assert (after["conversations"], after["messages"], after["favorites"], after["tags"]) == (2, 8, 0, 1)
    assert after["first_message_at"] == min(m["created_at"] for m in messages[2:])
    await client.delete(f"/history/{second['conversation_id']}", headers=alice.headers)
    assert (await stats(client, alice))["messages"] == 4
    await client.delete("/history", headers=alice.headers)
    cleared = await stats(client, alice)
    assert (cleared["conversations"], cleared["messages"], cleared["first_message_at"]) == (0, 0, None)
    assert sum(day["messages"] for day in cleared["by_day"]) == 0
    assert (await stats(client, bob))["messages"] == 2
