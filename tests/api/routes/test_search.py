"""HTTP tests of GET /search: folding, prefixes, phrases, order, snippets, upkeep, ownership."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi import FastAPI

from BackEnd import search_text
from BackEnd.search_text import parse_query
from tests.api.routes.test_conversations import chat, create

if TYPE_CHECKING:
    from tests.conftest import Account


async def search(client: httpx.AsyncClient, account: Account, q: str, **params: int) -> dict:
    response = await client.get("/search", params={"q": q, **params}, headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def say(
    client: httpx.AsyncClient, account: Account, message: str, conversation_id: str | None = None
) -> dict:
    """A turn in a thread titled "fil" (a thread started by a chat is titled by its message)."""
    if conversation_id is None:
        conversation_id = (await create(client, account, title="fil"))["id"]
    return await chat(client, account, message, conversation_id)


def visible(snippet: str) -> str:
    return re.sub(r"</?mark>", "", snippet).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def marked(snippet: str) -> list[str]:
    return re.findall(r"<mark>(.*?)</mark>", snippet)


async def test_words_match_without_case_or_accents_as_prefixes(
    client: httpx.AsyncClient, alice: Account
) -> None:
    reply = await say(client, alice, "Mon École fait de la photosynthèse")

    for query in ("ecole", "ÉCOLE", "École", "photo", "ecol PHOTOS"[:10], "mon ecole photo"):
        found = await search(client, alice, query)
        assert reply["user_message_id"] in [item["message_id"] for item in found["items"]], query
    assert (await search(client, alice, "hotosynth"))["total"] == 0  # a prefix, not any substring
    assert (await search(client, alice, "ecole absent"))["total"] == 0  # every word must match


async def test_upper_case_query_finds_lower_case_accents(client: httpx.AsyncClient, alice: Account) -> None:
    await say(client, alice, "une école")
    found = await search(client, alice, "ÉCOLE")
    assert found["total"] >= 1
    assert {tuple(marked(item["snippet"])) for item in found["items"]} == {("école",)}


async def test_a_quoted_phrase_needs_its_words_in_a_row(client: httpx.AsyncClient, alice: Account) -> None:
    await say(client, alice, "la belle époque")
    await say(client, alice, "belle et la")

    found = await search(client, alice, '"la bel"')
    assert {visible(item["snippet"]) for item in found["items"]} == {
        "la belle époque",
        "echo: la belle époque",
    }
    assert (await search(client, alice, '"belle epoque"'))["total"] == found["total"]
    assert (await search(client, alice, '"epoque belle"'))["total"] == 0


async def test_titles_and_messages_newest_first(client: httpx.AsyncClient, alice: Account) -> None:
    thread = await create(client, alice, title="Révision de chimie")
    first = await chat(client, alice, "chimie organique", thread["id"])

    found = await search(client, alice, "chimie")

    assert [(item["message_id"], item["role"]) for item in found["items"]] == [
        (first["assistant_message_id"], "assistant"),
        (first["user_message_id"], "user"),
        (None, None),
    ]
    assert found["total"] == 3
    title = found["items"][-1]
    assert (
        title["title"]
        == title["snippet"].replace("<mark>", "").replace("</mark>", "")
        == "Révision de chimie"
    )
    assert title["conversation_id"] == thread["id"] and title["archived"] is False
    stamps = [item["created_at"] for item in found["items"]]
    assert stamps == sorted(stamps, reverse=True)


async def test_paging(client: httpx.AsyncClient, alice: Account) -> None:
    for number in range(3):
        await say(client, alice, f"zèbre {number}")
    everything = await search(client, alice, "zebre", limit=100)
    page = await search(client, alice, "zebre", limit=2, offset=3)
    assert everything["total"] == page["total"] == 6
    assert page["items"] == everything["items"][3:5]
    assert everything["total_is_lower_bound"] is page["total_is_lower_bound"] is False


async def test_past_the_count_cap_the_total_is_a_lower_bound(
    client: httpx.AsyncClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_text, "TOTAL_CAP", 3)
    for number in range(3):
        await say(client, alice, f"zèbre {number}")
    everything = await search(client, alice, "zebre", limit=100)
    first = await search(client, alice, "zebre", limit=2)
    assert (everything["total"], everything["total_is_lower_bound"]) == (6, False)
    assert (first["total"], first["total_is_lower_bound"]) == (3, True)
    assert first["items"] == everything["items"][:2]


@pytest.mark.parametrize("query", ["", "   ", '""', "!!! ?", "_"])
async def test_a_query_without_a_word_is_refused(
    client: httpx.AsyncClient, alice: Account, query: str
) -> None:
    response = await client.get("/search", params={"q": query}, headers=alice.headers)
    assert response.status_code == 422
    assert "q" in str(response.json()["detail"])


async def test_the_snippet_is_escaped_and_at_most_200_visible_characters(
    client: httpx.AsyncClient, alice: Account
) -> None:
    text = "<script>alert(1)</script> & " + "blabla " * 60 + "cible <b>trouvée</b> " + "suite " * 60
    await say(client, alice, text)

    found = await search(client, alice, "cible trouvee")
    snippet = found["items"][-1]["snippet"]

    assert "<script>" not in snippet and "<b>" not in snippet
    assert marked(snippet) == ["cible", "trouvée"]
    assert "&lt;b&gt;" in snippet
    assert len(visible(snippet).replace("&lt;", "<")) <= 200
    assert re.sub(r"<mark>.*?</mark>|&lt;|&gt;|&amp;", "", snippet).count("<") == 0


async def test_new_messages_show_at_once_and_deleted_ones_never(
    client: httpx.AsyncClient, alice: Account
) -> None:
    kept = await say(client, alice, "kiwi gardé")
    cleared = await say(client, alice, "kiwi effacé")
    deleted = await say(client, alice, "kiwi supprimé")
    assert (await search(client, alice, "kiwi"))["total"] == 6

    assert (
        await client.delete(f"/history/{cleared['conversation_id']}", headers=alice.headers)
    ).status_code == 204
    assert (
        await client.delete(f"/conversations/{deleted['conversation_id']}", headers=alice.headers)
    ).status_code == 204
    found = await search(client, alice, "kiwi")
    assert {item["conversation_id"] for item in found["items"]} == {kept["conversation_id"]}

    await chat(client, alice, "kiwi encore", cleared["conversation_id"])
    assert (await search(client, alice, "kiwi encore"))["total"] == 2
    assert (await client.delete("/history", headers=alice.headers)).status_code == 204
    assert (await search(client, alice, "kiwi"))["total"] == 0


async def test_a_rename_replaces_the_title(client: httpx.AsyncClient, alice: Account) -> None:
    thread = await create(client, alice, title="ancien titre")
    response = await client.patch(
        f"/conversations/{thread['id']}", json={"title": "nouveau"}, headers=alice.headers
    )
    assert response.status_code == 200
    assert (await search(client, alice, "ancien"))["total"] == 0
    assert [item["title"] for item in (await search(client, alice, "nouv"))["items"]] == ["nouveau"]


async def test_only_the_callers_own_text_is_searched(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    await say(client, alice, "secret d'alice")
    assert (await search(client, bob, "secret"))["total"] == 0
    assert (await search(client, alice, "secret"))["total"] == 2


async def test_a_deleted_accounts_text_is_gone(
    client: httpx.AsyncClient, alice: Account, app: FastAPI
) -> None:
    await say(client, alice, "pamplemousse")
    assert (await search(client, alice, "pamplemousse"))["total"] == 2
    assert (await client.delete("/users/me", headers=alice.headers)).status_code == 204
    database = app.state.context.database
    with database.unit_of_work(alice.id, write=False) as unit:
        assert unit.search.search(alice.id, parse_query("pamplemousse"), limit=10, offset=0).total == 0
