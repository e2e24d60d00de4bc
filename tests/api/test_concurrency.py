"""Races between requests of different kinds on the same data: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import random

import anyio
import httpx

from tests.utils.api import Account, sign_up


async def test_parallel_registrations_of_one_email_make_exactly_one_account(
    client: httpx.AsyncClient,
) -> None:
    body = {"email": "race@example.com", "password": "correct horse"}
    with anyio.fail_after(30):
        answers = await asyncio.gather(*(client.post("/auth/register", json=body) for _ in range(20)))

    assert sorted(answer.status_code for answer in answers) == [201] + [409] * 19
    login = await client.post("/auth/login", json=body)
    assert login.status_code == 200


async def test_parallel_registrations_of_different_emails_lose_none(
    client: httpx.AsyncClient, admin: Account
) -> None:
    emails = [f"student{n:02d}@example.com" for n in range(30)]
    with anyio.fail_after(30):
        answers = await asyncio.gather(
            *(client.post("/auth/register", json={"email": e, "password": "correct horse"}) for e in emails)
        )

    assert [answer.status_code for answer in answers] == [201] * 30
    listed = (await client.get("/users", headers=admin.headers)).json()["items"]
    assert sorted(user["email"] for user in listed) == sorted([*emails, admin.email])
    assert len({user["id"] for user in listed}) == len(listed)


async def test_parallel_creates_renames_and_turns_of_one_user_lose_no_update(
    client: httpx.AsyncClient, alice: Account
) -> None:
    # Every one of these rewrites alice's one conversation list: a lost update would drop one.
    existing = [
        (await client.post("/conversations", json={"title": f"old {n}"}, headers=alice.headers)).json()["id"]
        for n in range(4)
    ]
    renames = {conversation_id: f"renamed {n}" for n, conversation_id in enumerate(existing[:2])}
    jobs = [
        client.post("/conversations", json={"title": f"new {n}"}, headers=alice.headers) for n in range(10)
    ]
    jobs += [
        client.patch(f"/conversations/{cid}", json={"title": title}, headers=alice.headers)
        for cid, title in renames.items()
    ]
    jobs += [
        client.post(
            "/ai/chat",
            json={"message": f"turn {n}", "conversation_id": existing[n % 4]},
            headers=alice.headers,
        )
        for n in range(12)
    ]
    random.Random(7).shuffle(jobs)

    with anyio.fail_after(30):
        answers = await asyncio.gather(*jobs)

    assert all(answer.is_success for answer in answers), [a.text for a in answers if not a.is_success]
    listed = (await client.get("/conversations", params={"limit": 200}, headers=alice.headers)).json()
    titles = {item["id"]: item["title"] for item in listed["items"]}
    assert listed["total"] == len(titles) == 14
    assert sorted(t for t in titles.values() if t.startswith("new")) == sorted(f"new {n}" for n in range(10))
    assert {cid: titles[cid] for cid in renames} == renames
    for n, conversation_id in enumerate(existing):
        history = await client.get(f"/history/{conversation_id}", headers=alice.headers)
        assert history.json()["total"] == 2 * 3, f"thread {n} lost a turn"
    stamps = [item["updated_at"] for item in listed["items"]]
    assert stamps == sorted(stamps, reverse=True)


async def test_parallel_turns_of_many_users_never_share_an_id_or_a_thread(client: httpx.AsyncClient) -> None:
    users = [await sign_up(client, f"user{n}@example.com") for n in range(4)]
    jobs = [
        client.post("/ai/chat", json={"message": f"m{n}"}, headers=users[n % 4].headers) for n in range(40)
    ]

    with anyio.fail_after(30):
        answers = await asyncio.gather(*jobs)

    replies = [answer.json() for answer in answers]
    ids = [
        reply[key]
        for reply in replies
        for key in ("conversation_id", "user_message_id", "assistant_message_id")
    ]
    assert len(set(ids)) == len(ids) == 120
    for user in users:
        listed = (await client.get("/conversations", params={"limit": 200}, headers=user.headers)).json()
        assert listed["total"] == 10  # each of this user's ten turns, in its own thread
        mine = {reply["conversation_id"] for n, reply in enumerate(replies) if users[n % 4] is user}
        assert {item["id"] for item in listed["items"]} == mine
