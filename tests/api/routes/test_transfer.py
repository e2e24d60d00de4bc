"""HTTP tests of export (txt, md, json, pdf; one or all threads) and import (ours, ChatGPT's)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

import httpx
import pytest
from fastapi import FastAPI
from pypdf import PdfReader

from BackEnd.app import MAX_BODY_BYTES, MAX_IMPORT_BYTES
from tests.api.routes.test_conversations import chat, create
from tests.api.routes.test_search import search

if TYPE_CHECKING:
    from tests.conftest import Account

CHATGPT = Path(__file__).resolve().parents[2] / "data" / "chatgpt_conversations.json"
TITLE = 'Révision "maths" / Ελληνικά: été'


async def thread_with_turns(client: httpx.AsyncClient, account: Account) -> tuple[dict, dict]:
    thread = await create(client, account, title=TITLE)
    turn = await chat(client, account, "Bonjour, ça va ? Ελληνικά Русский 中文 😀", thread["id"])
    return thread, turn


async def export(
    client: httpx.AsyncClient, account: Account, conversation_id: str, fmt: str
) -> httpx.Response:
    response = await client.get(
        f"/conversations/{conversation_id}/export", params={"format": fmt}, headers=account.headers
    )
    assert response.status_code == 200, response.text
    return response


async def history(client: httpx.AsyncClient, account: Account, conversation_id: str) -> list[dict]:
    response = await client.get(f"/history/{conversation_id}", headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def import_body(client: httpx.AsyncClient, account: Account, body: object) -> httpx.Response:
    return await client.post("/conversations/import", json=body, headers=account.headers)


async def stored_count(client: httpx.AsyncClient, account: Account) -> int:
    response = await client.get("/conversations", headers=account.headers)
    return int(response.json()["total"])


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [
        ("txt", "text/plain"),
        ("md", "text/markdown"),
        ("json", "application/json"),
        ("pdf", "application/pdf"),
    ],
)
async def test_an_export_is_an_attachment_with_a_safe_name(
    client: httpx.AsyncClient, alice: Account, fmt: str, media_type: str
) -> None:
    thread, _ = await thread_with_turns(client, alice)
    response = await export(client, alice, thread["id"], fmt)

    assert response.headers["content-type"].split(";")[0] == media_type
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="Revision-maths-ete.') and f'.{fmt}"' in disposition
    exact = unquote(disposition.split("filename*=UTF-8''")[1])
    assert exact == f"Révision maths Ελληνικά été.{fmt}"


@pytest.mark.parametrize("fmt", ["txt", "md"])
async def test_text_exports_hold_title_dates_roles_and_times(
    client: httpx.AsyncClient, alice: Account, fmt: str
) -> None:
    thread, turn = await thread_with_turns(client, alice)
    messages = await history(client, alice, thread["id"])

    text = (await export(client, alice, thread["id"], fmt)).text

    assert TITLE in text
    assert thread["created_at"][:10] in text
    assert "Utilisateur" in text and "Assistant" in text
    for message in messages:
        assert message["content"] in text
        assert f"{message['created_at'][:10]} {message['created_at'][11:16]} UTC" in text
    if fmt == "md":
        assert text.startswith(f"# {TITLE}\n") and "\n## Assistant" in text


async def test_the_pdf_reads_back_with_accents_greek_and_cyrillic(
    client: httpx.AsyncClient, alice: Account
) -> None:
    thread = await create(client, alice, title="Été — Ελληνικά — Русский")
    long_line = "photosynthèse " * 400  # several pages of wrapped lines
    await chat(client, alice, long_line + "fin 中文 😀", thread["id"])

    pdf = PdfReader(io.BytesIO((await export(client, alice, thread["id"], "pdf")).content))
    pages = [page.extract_text() for page in pdf.pages]
    text = "\n".join(pages)

    assert len(pages) >= 2
    assert "Été — Ελληνικά — Русский" in text
    assert "Utilisateur" in text and "Assistant" in text
    assert text.count("photosynthèse") >= 400
    assert all(f"{number} / {len(pages)}" in page for number, page in enumerate(pages, 1))


async def test_a_json_export_imports_back_as_new_threads_that_search_and_chat_use(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    thread, _ = await thread_with_turns(client, alice)
    exported = (await export(client, alice, thread["id"], "json")).json()
    assert exported["format"] == "assistantia-conversations"

    response = await import_body(client, bob, exported)

    assert response.status_code == 201, response.text
    result = response.json()
    assert result["imported"] == 1 and result["conversation_ids"][0] != thread["id"]
    new_id = result["conversation_ids"][0]
    copy = (await client.get(f"/conversations/{new_id}", headers=bob.headers)).json()
    assert (copy["title"], copy["created_at"]) == (thread["title"], thread["created_at"])
    original = await history(client, alice, thread["id"])
    imported = await history(client, bob, new_id)
    keys = ("role", "content", "created_at")
    assert [{key: m[key] for key in keys} for m in imported] == [
        {key: m[key] for key in keys} for m in original
    ]
    assert {m["id"] for m in imported}.isdisjoint(m["id"] for m in original)
    assert (await search(client, bob, "Ελληνικά"))["total"] == 3  # the title and both messages
    await chat(client, bob, "et ensuite ?", new_id)
    assert len(await history(client, bob, new_id)) == 4


async def test_exporting_all_threads_gives_one_file_import_takes(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    await thread_with_turns(client, alice)
    await create(client, alice, title="vide")
    response = await client.get("/conversations/export", params={"format": "json"}, headers=alice.headers)
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith('attachment; filename="conversations.json"')
    body = response.json()
    assert sorted(item["title"] for item in body["conversations"]) == sorted([TITLE, "vide"])

    imported = await import_body(client, bob, body)
    assert imported.status_code == 201 and imported.json()["imported"] == 2
    assert await stored_count(client, bob) == 2


async def test_chatgpt_export_keeps_the_shown_branch_user_and_assistant_text_only(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await import_body(client, alice, json.loads(CHATGPT.read_text(encoding="utf-8")))

    assert response.status_code == 201, response.text
    first, second = response.json()["conversation_ids"]
    thread = (await client.get(f"/conversations/{first}", headers=alice.headers)).json()
    assert thread["title"] == "Révision photosynthèse"
    assert thread["created_at"] == "2023-11-14T22:13:20.250000Z"
    messages = await history(client, alice, first)
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "Explique la photosynthèse, s'il te plaît."),
        ("assistant", "La photosynthèse transforme la lumière en énergie chimique."),
        ("user", "Et en grec ? 中文 😀"),
        ("assistant", "Φωτοσύνθεση — по-русски: Фотосинтез."),
    ]
    stamps = [m["created_at"] for m in messages]
    assert stamps[0] == "2023-11-14T22:13:30.500000Z" and stamps == sorted(stamps)
    assert stamps[2] == stamps[1]  # no create_time: the time of the message above
    untitled = (await client.get(f"/conversations/{second}", headers=alice.headers)).json()
    assert untitled["title"] == "Nouvelle conversation"
    assert (await search(client, alice, "photosynthese"))["total"] == 3
    assert (await search(client, alice, "régénérée"))["total"] == 0  # the abandoned branch
    assert (await search(client, alice, "bruts"))["total"] == 0  # the tool's output


@pytest.mark.parametrize(
    ("mangle", "named"),
    [
        (lambda body: body[1].update(current_node="nowhere"), "conversations[1].current_node"),
        (lambda body: body[0]["mapping"]["a2"].update(parent="gone"), "'gone' is missing"),
        (
            lambda body: body[0]["mapping"]["u1"]["message"].update(create_time="hier"),
            "['u1'].message.create_time",
        ),
        (lambda body: body[1].update(mapping=[]), "conversations[1].mapping"),
    ],
)
async def test_a_malformed_chatgpt_export_is_a_422_naming_the_node_and_imports_nothing(
    client: httpx.AsyncClient, alice: Account, mangle, named: str
) -> None:
    body = json.loads(CHATGPT.read_text(encoding="utf-8"))
    mangle(body)

    response = await import_body(client, alice, body)

    assert response.status_code == 422, response.text
    assert named in response.json()["detail"]
    assert await stored_count(client, alice) == 0


async def test_an_import_is_all_or_nothing(client: httpx.AsyncClient, alice: Account) -> None:
    thread, _ = await thread_with_turns(client, alice)
    body = (await client.get("/conversations/export", headers=alice.headers)).json()
    good = body["conversations"][0]
    bad = {
        **good,
        "messages": [*good["messages"], {"role": "system", "content": "x", "created_at": good["created_at"]}],
    }
    body["conversations"] = [good, good, bad]

    response = await import_body(client, alice, body)

    assert response.status_code == 422
    assert response.json()["detail"].startswith("conversations[2].messages[2].role")
    assert await stored_count(client, alice) == 1


@pytest.mark.parametrize(
    "body",
    [{"format": "other"}, [], 42, {"format": "assistantia-conversations", "version": 9, "conversations": []}],
)
async def test_an_unknown_shape_is_a_422(client: httpx.AsyncClient, alice: Account, body: object) -> None:
    response = await import_body(client, alice, body)
    assert response.status_code == 422, response.text


async def test_a_body_that_is_not_json_is_a_400(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.post(
        "/conversations/import",
        content=b"{not json",
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400


async def test_an_import_may_be_larger_than_other_bodies_up_to_its_own_cap(
    client: httpx.AsyncClient, alice: Account, app: FastAPI
) -> None:
    body = {
        "format": "assistantia-conversations",
        "version": 1,
        "conversations": [
            {
                "title": f"gros {n}",
                "created_at": "2026-01-01T00:00:00.000000Z",
                "updated_at": "2026-01-01T00:00:00.000000Z",
                "messages": [
                    {"role": "user", "content": "x" * 10_000, "created_at": "2026-01-01T00:00:01.000000Z"}
                ],
            }
            for n in range(3 * MAX_BODY_BYTES // 10_000)
        ],
    }
    response = await import_body(client, alice, body)
    assert response.status_code == 201, response.text

    too_large = b" " * (MAX_IMPORT_BYTES + 1)
    refused = await client.post(
        "/conversations/import",
        content=too_large,
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert refused.status_code == 413
    assert str(MAX_IMPORT_BYTES) in refused.json()["detail"]


async def test_export_of_another_users_thread_is_a_404(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    thread, _ = await thread_with_turns(client, alice)
    response = await client.get(f"/conversations/{thread['id']}/export", headers=bob.headers)
    assert response.status_code == 404


async def test_an_import_nested_too_deep_is_a_400_not_a_crash(
    client: httpx.AsyncClient, alice: Account
) -> None:
    depth = 100_000
    response = await client.post(
        "/conversations/import",
        content=b"[" * depth + b"]" * depth,
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert await stored_count(client, alice) == 0


async def test_an_import_over_the_per_user_cap_is_a_409_and_imports_nothing(
    client: httpx.AsyncClient, alice: Account, app: FastAPI
) -> None:
    cap = app.state.context.limits.conversations_per_user
    body = json.loads(CHATGPT.read_text(encoding="utf-8"))
    response = await import_body(client, alice, [body[1]] * (cap + 1))
    assert response.status_code == 409
    assert await stored_count(client, alice) == 0


async def test_organising_fields_travel_through_export_and_import(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    thread, _ = await thread_with_turns(client, alice)
    changes = {"is_favorite": True, "archived": True, "folder": "Cours", "tags": ["Maths", "bac"]}
    patched = await client.patch(f"/conversations/{thread['id']}", json=changes, headers=alice.headers)
    assert patched.status_code == 200, patched.text
    exported = (await export(client, alice, thread["id"], "json")).json()

    response = await import_body(client, bob, exported)

    assert response.status_code == 201, response.text
    copy = (
        await client.get(f"/conversations/{response.json()['conversation_ids'][0]}", headers=bob.headers)
    ).json()
    assert {field: copy[field] for field in changes} == {**changes, "tags": ["bac", "maths"]}
    assert (copy["message_count"], copy["preview"]) == (
        2,
        "echo: Bonjour, ça va ? Ελληνικά Русский 中文 😀"[:120],
    )


@pytest.mark.parametrize(
    ("field", "value"), [("is_favorite", "yes"), ("folder", ""), ("tags", ["x" * 41]), ("tags", "maths")]
)
async def test_a_malformed_organising_field_is_a_422_naming_it(
    client: httpx.AsyncClient, alice: Account, field: str, value: object
) -> None:
    thread = {
        "title": "t",
        "created_at": "2026-01-01T00:00:00.000000Z",
        "updated_at": "2026-01-01T00:00:00.000000Z",
    }
    body = {
        "format": "assistantia-conversations",
        "version": 1,
        "conversations": [{**thread, field: value, "messages": []}],
    }

    response = await import_body(client, alice, body)

    assert response.status_code == 422
    assert f"conversations[0].{field}" in response.text
