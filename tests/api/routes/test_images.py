"""Issue 10 part 3 on every backend: images in a message, checked, stored once, served to their owner."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from BackEnd.services.images import MAX_IMAGE_BYTES
from tests.utils.api import Account
from tests.utils.images import GIF, JPEG, PNG, WEBP, data_url, database_of, stored_file_count

REMOTE = "https://example.com/exercise.png"


async def chat(
    client: httpx.AsyncClient,
    who: Account,
    message: str,
    images: list[str],
    conversation_id: str | None = None,
) -> httpx.Response:
    body: dict[str, object] = {"message": message, "images": images}
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    return await client.post("/ai/chat", json=body, headers=who.headers)


async def history(client: httpx.AsyncClient, who: Account, conversation_id: str) -> list[dict[str, object]]:
    response = await client.get(f"/history/{conversation_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


async def test_a_data_image_is_stored_once_and_served_to_its_owner_only(client, app, upstream, alice, bob):
    response = await chat(client, alice, "Que montre cette image ?", [data_url("image/png", PNG), REMOTE])
    assert response.status_code == 200, response.text
    question, answer = await history(client, alice, response.json()["conversation_id"])

    stored, remote = question["images"]  # type: ignore[misc]
    assert stored["url"] == f"/files/{stored['id']}" and stored["id"].startswith("file_")
    assert (stored["content_type"], stored["bytes"]) == ("image/png", len(PNG))
    assert remote == {"id": None, "url": REMOTE, "content_type": None, "bytes": None}
    assert answer["images"] == []
    served = await client.get(stored["url"], headers=alice.headers)
    assert served.status_code == 200 and served.content == PNG
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["cache-control"].startswith("private")
    assert (await client.get(stored["url"], headers=bob.headers)).status_code == 404
    assert (await client.get(stored["url"])).status_code == 401
    assert (await client.get("/files/file_" + "0" * 32, headers=alice.headers)).status_code == 404
    assert stored_file_count(database_of(app)) == 1
    # The model got OpenAI content parts: the text, then each image by URL.
    sent = upstream.bodies[-1]["messages"][-1]["content"]
    assert sent == [
        {"type": "text", "text": "Que montre cette image ?"},
        {"type": "image_url", "image_url": {"url": data_url("image/png", PNG)}},
        {"type": "image_url", "image_url": {"url": REMOTE}},
    ]


async def test_every_declared_type_with_matching_bytes_is_accepted(client, alice):
    images = [
        data_url(kind, data)
        for kind, data in (("image/png", PNG), ("image/jpeg", JPEG), ("image/gif", GIF), ("image/webp", WEBP))
    ]
    response = await chat(client, alice, "quatre images", images)
    assert response.status_code == 200, response.text
    (question, _) = await history(client, alice, response.json()["conversation_id"])
    assert [image["content_type"] for image in question["images"]] == [
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
    ]  # type: ignore[union-attr, index]


REFUSED = {
    "unknown-type": [data_url("image/bmp", b"BM" + bytes(40))],
    "bytes-of-another-type": [REMOTE, data_url("image/png", JPEG)],
    "text-declared-as-gif": [data_url("image/gif", b"not an image")],
    "not-base64": ["data:image/png;base64,@@@@"],
    "oversize": [data_url("image/png", PNG + bytes(MAX_IMAGE_BYTES))],
    "plain-http": ["http://example.com/a.png"],
    "five-images": [REMOTE] * 5,
}


@pytest.mark.parametrize("images", REFUSED.values(), ids=REFUSED.keys())
async def test_a_refused_image_is_a_422_naming_it_and_nothing_is_stored(client, app, upstream, alice, images):
    response = await chat(client, alice, "regarde", images)

    assert response.status_code == 422, response.text
    error = response.json()["detail"][0]
    assert error["loc"][:2] == ["body", "images"]
    if len(images) <= 4:  # the one refused is named by its place in the list
        assert error["loc"][2] == str(len(images) - 1) and f"images[{len(images) - 1}]" in error["msg"]
    assert upstream.requests == []
    assert (await client.get("/conversations", headers=alice.headers)).json()["total"] == 0
    assert stored_file_count(database_of(app)) == 0


async def test_a_refused_turn_leaves_no_file(client, app, upstream, alice):
    upstream.handler = lambda request: httpx.Response(500, json={"error": {"message": "down"}})
    response = await chat(client, alice, "regarde", [data_url("image/png", PNG)])
    assert response.status_code == 502
    assert stored_file_count(database_of(app)) == 0
    assert (await client.get("/conversations", headers=alice.headers)).json()["total"] == 0


@pytest.mark.parametrize("cached", [True, False], ids=["cached", "read-back"])
async def test_later_turns_show_the_model_earlier_images_inside_the_memory_window(
    client, app, upstream, alice, monkeypatch, cached
):
    if not cached:  # as after a restart, or in another worker: the image comes from storage
        from BackEnd.services import images

        monkeypatch.setattr(images, "_RECENT", images._RecentDataUrls(max_chars=0))
    first = (await chat(client, alice, "voici l'exercice", [data_url("image/jpeg", JPEG), REMOTE])).json()
    await chat(client, alice, "et la suite ?", [], first["conversation_id"])

    earlier = upstream.bodies[-1]["messages"][1]
    assert earlier["role"] == "user" and earlier["content"] == [
        {"type": "text", "text": "voici l'exercice"},
        {"type": "image_url", "image_url": {"url": data_url("image/jpeg", JPEG)}},
        {"type": "image_url", "image_url": {"url": REMOTE}},
    ]
    assert upstream.bodies[-1]["messages"][-1]["content"] == "et la suite ?"  # no images: plain text


async def test_the_history_never_holds_the_bytes(client, app, alice):
    marker = PNG + b"unmistakable-marker" * 10
    response = await chat(client, alice, "image", [data_url("image/png", marker)])
    page = await client.get(f"/history/{response.json()['conversation_id']}", headers=alice.headers)
    assert base64.b64encode(marker).decode() not in page.text
    database = database_of(app)
    if hasattr(database, "threads"):  # TinyDB: the thread's own file holds the reference only
        path = database.threads.history_dir / f"{response.json()['conversation_id']}.json"
        assert base64.b64encode(marker).decode() not in path.read_text()


@pytest.mark.parametrize("removal", ["thread", "history", "all-history", "account"])
async def test_deleting_what_holds_an_image_deletes_its_file(client, app, alice, bob, removal):
    mine = (await chat(client, alice, "image", [data_url("image/png", PNG)])).json()
    await chat(client, bob, "image de bob", [data_url("image/gif", GIF)])
    (question, _) = await history(client, alice, mine["conversation_id"])
    url = question["images"][0]["url"]  # type: ignore[index]
    database = database_of(app)
    assert stored_file_count(database) == 2

    paths = {
        "thread": ("DELETE", f"/conversations/{mine['conversation_id']}"),
        "history": ("DELETE", f"/history/{mine['conversation_id']}"),
        "all-history": ("DELETE", "/history"),
        "account": ("DELETE", "/users/me"),
    }
    method, path = paths[removal]
    assert (await client.request(method, path, headers=alice.headers)).status_code in (200, 204)

    assert stored_file_count(database) == 1  # bob's stays
    if removal != "account":
        assert (await client.get(url, headers=alice.headers)).status_code == 404


async def test_the_stream_takes_images_too(client, app, upstream, alice):
    from tests.utils.streams import StreamScript

    upstream.handler = StreamScript().response
    body = {"message": "regarde", "images": [data_url("image/webp", WEBP)]}
    response = await client.post("/ai/chat/stream", json=body, headers=alice.headers)
    assert response.status_code == 200
    start = json.loads(response.text.split("data: ", 1)[1].split("\n", 1)[0])
    (question, _) = await history(client, alice, start["conversation_id"])
    assert question["images"][0]["content_type"] == "image/webp"  # type: ignore[index]
    assert upstream.bodies[-1]["messages"][-1]["content"][1]["image_url"]["url"] == data_url(
        "image/webp", WEBP
    )
    assert stored_file_count(database_of(app)) == 1


async def test_the_websocket_chat_takes_images_and_a_refused_one_is_an_error_event(
    client, app, upstream, alice
):
    from tests.api.routes.test_chat_socket import signed_in
    from tests.utils.sockets import socket
    from tests.utils.streams import StreamScript

    upstream.handler = StreamScript().response
    async with socket(app) as ws:
        await signed_in(ws, alice)
        await ws.send(
            {"type": "chat", "request_id": "bad", "message": "x", "images": [data_url("image/png", GIF)]}
        )
        refused = await ws.receive()
        await ws.send(
            {"type": "chat", "request_id": "ok", "message": "x", "images": [data_url("image/gif", GIF)]}
        )
        events = await ws.until("done")

    assert refused["type"] == "error" and refused["status"] == 422 and refused["request_id"] == "bad"
    assert "images[0]" in json.dumps(refused["detail"])
    (question, _) = await history(client, alice, events[0]["conversation_id"])
    assert question["images"][0]["content_type"] == "image/gif"  # type: ignore[index]
    assert stored_file_count(database_of(app)) == 1


def test_the_server_takes_websocket_messages_as_large_as_a_chat_body(tmp_path) -> None:
    from BackEnd.app import MAX_CHAT_BYTES
    from BackEnd.server.limits import ConnectionLimits
    from BackEnd.server.options import server_options
    from tests.utils.api import make_settings

    options = server_options(make_settings(tmp_path), ConnectionLimits(16384, 10.0, 5.0, 100))
    assert options["ws_max_size"] == MAX_CHAT_BYTES == 25 * 1024 * 1024


async def test_a_fork_gets_its_own_copy_of_the_images(client, app, alice):
    mine = (await chat(client, alice, "image", [data_url("image/png", PNG), REMOTE])).json()
    fork = await client.post(f"/conversations/{mine['conversation_id']}/fork", json={}, headers=alice.headers)
    assert fork.status_code == 201, fork.text
    (copied, _) = await history(client, alice, fork.json()["id"])
    (original, _) = await history(client, alice, mine["conversation_id"])
    assert copied["images"][0]["id"] != original["images"][0]["id"]  # type: ignore[index]
    assert copied["images"][1] == original["images"][1]  # type: ignore[index]
    assert stored_file_count(database_of(app)) == 2

    await client.delete(f"/conversations/{mine['conversation_id']}", headers=alice.headers)
    served = await client.get(copied["images"][0]["url"], headers=alice.headers)  # type: ignore[index]
    assert served.status_code == 200 and served.content == PNG
    assert stored_file_count(database_of(app)) == 1


async def test_a_regenerate_shows_the_model_the_question_s_images_again(client, app, upstream, alice):
    first = (await chat(client, alice, "voici l'exercice", [data_url("image/png", PNG), REMOTE])).json()

    response = await client.post(
        "/ai/chat/regenerate", json={"conversation_id": first["conversation_id"]}, headers=alice.headers
    )

    assert response.status_code == 200, response.text
    asked = upstream.bodies[-1]["messages"][-1]
    assert asked["role"] == "user" and asked["content"] == [
        {"type": "text", "text": "voici l'exercice"},
        {"type": "image_url", "image_url": {"url": data_url("image/png", PNG)}},
        {"type": "image_url", "image_url": {"url": REMOTE}},
    ]
