"""HTTP tests of /conversations: creation, listing order and paging, rename, delete, ownership."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.utils.records import stored_state, stored_text

if TYPE_CHECKING:
    from tests.conftest import Account

UNKNOWN_ID = "conv_" + "0" * 32
ID_PATTERN = re.compile(r"conv_[A-Za-z0-9_-]{1,64}")
STAMP_PATTERN = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


async def create(client: httpx.AsyncClient, account: Account, **body: object) -> dict:
    response = await client.post("/conversations", json=body, headers=account.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def chat(
    client: httpx.AsyncClient, account: Account, message: str, conversation_id: str | None
) -> dict:
    response = await client.post(
        "/ai/chat", json={"message": message, "conversation_id": conversation_id}, headers=account.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def listed_ids(client: httpx.AsyncClient, account: Account, **params: int) -> list[str]:
    response = await client.get("/conversations", params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_create_conversation_returns_public_fields_and_default_title(client, alice):
    response = await client.post("/conversations", json={}, headers=alice.headers)
    assert response.status_code == 201
    body = response.json()
    assert body | {"id": "", "created_at": "", "updated_at": ""} == {
        "id": "",
        "title": "Nouvelle conversation",
        "created_at": "",
        "updated_at": "",
        "is_favorite": False,
        "archived": False,
        "folder": None,
        "tags": [],
        "message_count": 0,
        "preview": None,
    }
    assert ID_PATTERN.fullmatch(body["id"])
    assert body["title"] == "Nouvelle conversation"
    assert STAMP_PATTERN.fullmatch(body["created_at"])
    assert body["updated_at"] == body["created_at"]


@pytest.mark.parametrize("title", ["", "   ", "\t\n ", None])
async def test_create_conversation_with_blank_title_gets_default(client, alice, title):
    assert (await create(client, alice, title=title))["title"] == "Nouvelle conversation"


async def test_create_conversation_trims_title(client, alice):
    created = await create(client, alice, title="  Révisions de maths \n")
    assert created["title"] == "Révisions de maths"
    fetched = await client.get(f"/conversations/{created['id']}", headers=alice.headers)
    assert fetched.json()["title"] == "Révisions de maths"


async def test_create_conversation_accepts_title_of_200_chars_and_refuses_201(client, alice):
    assert (await create(client, alice, title="t" * 200))["title"] == "t" * 200
    response = await client.post("/conversations", json={"title": "t" * 201}, headers=alice.headers)
    assert response.status_code == 422
    assert (await client.get("/conversations", headers=alice.headers)).json()["total"] == 1


async def test_create_conversation_ignores_extra_fields(client, app, alice, bob):
    body = {
        "title": "Mine",
        "user_id": bob.id,
        "id": "conv_chosenbyclient",
        "created_at": "1999-01-01T00:00:00.000000Z",
    }
    response = await client.post("/conversations", json=body, headers=alice.headers)
    assert response.status_code == 201
    created = response.json()
    assert created["id"] != "conv_chosenbyclient"
    assert created["created_at"] != body["created_at"]
    assert await listed_ids(client, alice) == [created["id"]]
    assert await listed_ids(client, bob) == []
    assert (await client.get(f"/conversations/{created['id']}", headers=bob.headers)).status_code == 404
    stored = app.state.context.database.export_dump().conversations
    assert [doc["user_id"] for doc in stored] == [alice.id]
    assert "conv_chosenbyclient" not in stored_text(app.state.context.database)


async def test_list_conversations_is_most_recently_updated_first(client, alice):
    first, second, third = [(await create(client, alice, title=name))["id"] for name in ("A", "B", "C")]
    assert await listed_ids(client, alice) == [third, second, first]

    await chat(client, alice, "bonjour", first)
    assert await listed_ids(client, alice) == [first, third, second]

    renamed = await client.patch(f"/conversations/{second}", json={"title": "B2"}, headers=alice.headers)
    assert renamed.status_code == 200
    assert await listed_ids(client, alice) == [second, first, third]


async def test_chat_turn_and_rename_bump_updated_at_but_not_created_at(client, alice):
    created = await create(client, alice, title="A")
    await chat(client, alice, "salut", created["id"])
    after_chat = (await client.get(f"/conversations/{created['id']}", headers=alice.headers)).json()
    assert after_chat["created_at"] == created["created_at"]
    assert after_chat["updated_at"] > created["updated_at"]
    renamed = (
        await client.patch(f"/conversations/{created['id']}", json={"title": "B"}, headers=alice.headers)
    ).json()
    assert renamed["created_at"] == created["created_at"]
    assert renamed["updated_at"] > after_chat["updated_at"]


async def test_list_conversations_pages_with_limit_and_offset(client, alice):
    for index in range(5):
        await create(client, alice, title=f"T{index}")
    everything = await client.get("/conversations", headers=alice.headers)
    assert everything.json()["limit"] == 50 and everything.json()["offset"] == 0
    all_ids = [item["id"] for item in everything.json()["items"]]
    assert len(all_ids) == 5

    pages = []
    for offset in (0, 2, 4):
        response = await client.get(
            "/conversations", params={"limit": 2, "offset": offset}, headers=alice.headers
        )
        body = response.json()
        assert (body["limit"], body["offset"], body["total"]) == (2, offset, 5)
        pages.append([item["id"] for item in body["items"]])
    assert pages == [all_ids[0:2], all_ids[2:4], all_ids[4:5]]
    assert await listed_ids(client, alice, offset=10) == []


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": "many"}])
async def test_list_conversations_refuses_bad_paging(client, alice, params):
    response = await client.get("/conversations", params=params, headers=alice.headers)
    assert response.status_code == 422


async def test_get_one_conversation(client, alice):
    created = await create(client, alice, title="Physique")
    response = await client.get(f"/conversations/{created['id']}", headers=alice.headers)
    assert response.status_code == 200
    assert response.json() == created


async def test_rename_conversation_trims_title(client, alice):
    created = await create(client, alice)
    response = await client.patch(
        f"/conversations/{created['id']}", json={"title": "  Chimie  "}, headers=alice.headers
    )
    assert response.status_code == 200
    assert response.json()["title"] == "Chimie"
    assert (await client.get(f"/conversations/{created['id']}", headers=alice.headers)).json()[
        "title"
    ] == "Chimie"


@pytest.mark.parametrize(
    "body",
    [{"title": ""}, {"title": "   "}, {}, {"title": None}, {"title": "x" * 201}, {"title": "a\u0000b"}],
)
async def test_rename_conversation_refuses_blank_missing_or_too_long_title(client, alice, body):
    created = await create(client, alice, title="Garde")
    response = await client.patch(f"/conversations/{created['id']}", json=body, headers=alice.headers)
    assert response.status_code == 422
    assert (await client.get(f"/conversations/{created['id']}", headers=alice.headers)).json() == created


async def test_delete_conversation_removes_it_its_messages_and_its_text(client, app, alice):
    marker = "Zyxwvut-secret-phrase-42"
    conversation_id = (await chat(client, alice, f"{marker} please", None))["conversation_id"]
    database = app.state.context.database
    assert marker in stored_text(database)

    response = await client.delete(f"/conversations/{conversation_id}", headers=alice.headers)
    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(f"/conversations/{conversation_id}", headers=alice.headers)).status_code == 404
    assert (await client.get(f"/history/{conversation_id}", headers=alice.headers)).status_code == 404
    assert marker not in stored_text(database)
    assert conversation_id not in stored_text(database)  # with TinyDB, no file is named after it
    assert (
        await client.delete(f"/conversations/{conversation_id}", headers=alice.headers)
    ).status_code == 404


async def test_unknown_conversation_is_not_found(client, alice):
    for method, kwargs in (("GET", {}), ("PATCH", {"json": {"title": "x"}}), ("DELETE", {})):
        response = await client.request(
            method, f"/conversations/{UNKNOWN_ID}", headers=alice.headers, **kwargs
        )
        assert response.status_code == 404, method
        assert response.json() == {"detail": "Conversation not found."}


@pytest.mark.parametrize(
    ("method", "kwargs"), [("GET", {}), ("PATCH", {"json": {"title": "Volé"}}), ("DELETE", {})]
)
async def test_other_users_conversation_looks_exactly_like_an_unknown_one(client, alice, bob, method, kwargs):
    created = await create(client, alice, title="Privé")
    await chat(client, alice, "mon secret", created["id"])
    before = (await client.get(f"/conversations/{created['id']}", headers=alice.headers)).json()

    foreign = await client.request(method, f"/conversations/{created['id']}", headers=bob.headers, **kwargs)
    unknown = await client.request(method, f"/conversations/{UNKNOWN_ID}", headers=bob.headers, **kwargs)
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json() == unknown.json()

    assert (await client.get(f"/conversations/{created['id']}", headers=alice.headers)).json() == before
    history = (await client.get(f"/history/{created['id']}", headers=alice.headers)).json()
    assert history["total"] == 2
    assert await listed_ids(client, bob) == []


@pytest.mark.parametrize(
    "raw_id",
    [
        "..%2Fusers",
        "conv_..%2F..%2Fusers",
        "%2E%2E",
        "%2E%2E%2Fusers",
        "..%5Cusers",
        "users.json",
        "..%2F..%2Fusers.json",
    ],
)
async def test_path_traversal_ids_are_not_found_and_touch_no_file(client, app, alice, raw_id):
    await create(client, alice, title="Témoin")
    database = app.state.context.database
    before = stored_state(database)
    for method, kwargs in (("GET", {}), ("PATCH", {"json": {"title": "pwned"}}), ("DELETE", {})):
        response = await client.request(method, f"/conversations/{raw_id}", headers=alice.headers, **kwargs)
        assert response.status_code == 404, (method, response.text)
    assert stored_state(database) == before
    assert (await client.get("/conversations", headers=alice.headers)).json()["total"] == 1


async def test_conversation_routes_require_authentication(client, alice):
    created = await create(client, alice)
    for method, path in (
        ("GET", "/conversations"),
        ("POST", "/conversations"),
        ("GET", f"/conversations/{created['id']}"),
        ("PATCH", f"/conversations/{created['id']}"),
        ("DELETE", f"/conversations/{created['id']}"),
    ):
        response = await client.request(method, path, json={"title": "x"})
        assert response.status_code == 401, (method, path)
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert (await client.get(f"/conversations/{created['id']}", headers=alice.headers)).json() == created
