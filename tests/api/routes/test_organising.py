"""HTTP tests of issue 11 part 1: organising fields, PATCH, shortcuts, list filters and sort, tags, folders."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from tests.conftest import Account


async def create(client: httpx.AsyncClient, who: Account, title: str, **changes: Any) -> dict[str, Any]:
    made = await client.post("/conversations", json={"title": title}, headers=who.headers)
    assert made.status_code == 201, made.text
    if not changes:
        return dict(made.json())
    return await patch(client, who, made.json()["id"], **changes)


async def patch(
    client: httpx.AsyncClient, who: Account, conversation_id: str, **changes: Any
) -> dict[str, Any]:
    changed = await client.patch(f"/conversations/{conversation_id}", json=changes, headers=who.headers)
    assert changed.status_code == 200, changed.text
    return dict(changed.json())


async def titles(client: httpx.AsyncClient, who: Account, params: Any = None) -> tuple[list[str], int]:
    listed = await client.get("/conversations", params=params, headers=who.headers)
    assert listed.status_code == 200, listed.text
    return [item["title"] for item in listed.json()["items"]], listed.json()["total"]


async def test_organising_fields_change_without_moving_updated_at_while_a_rename_does(client, alice):
    made = await create(client, alice, "Physique")

    organised = await patch(
        client,
        alice,
        made["id"],
        is_favorite=True,
        archived=True,
        folder="  Cours  ",
        tags=[" Quantique", "exam", "EXAM"],
    )
    assert organised == {
        **made,
        "is_favorite": True,
        "archived": True,
        "folder": "Cours",
        "tags": ["exam", "quantique"],
    }
    again = await client.get(f"/conversations/{made['id']}", headers=alice.headers)
    assert again.json() == organised

    renamed = await patch(client, alice, made["id"], title="Physique 2", folder=None)
    assert (
        renamed["title"] == "Physique 2"
        and renamed["folder"] is None
        and renamed["tags"] == ["exam", "quantique"]
    )
    assert renamed["updated_at"] > made["updated_at"]


async def test_the_spa_rename_still_answers_title_and_updated_at(client, alice):
    made = await create(client, alice, "Avant")
    renamed = await patch(client, alice, made["id"], title="Après")
    assert (renamed["title"], renamed["updated_at"] > made["updated_at"]) == ("Après", True)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": None},
        {"title": "   "},
        {"is_favorite": None},
        {"tags": None},
        {"folder": ""},
        {"folder": "x" * 101},
        {"tags": ["   "]},
        {"tags": ["x" * 41]},
        {"tags": [f"t{n}" for n in range(21)]},
        {"tags": ["a\tb"]},
        {"is_favorite": "yes please"},
    ],
)
async def test_patch_refuses_bad_organising_input_with_422(client, alice, body):
    made = await create(client, alice, "Thread")
    refused = await client.patch(f"/conversations/{made['id']}", json=body, headers=alice.headers)
    assert refused.status_code == 422, refused.text
    assert (await client.get(f"/conversations/{made['id']}", headers=alice.headers)).json() == made


async def test_tags_are_normalised_and_twenty_is_the_limit(client, alice):
    made = await create(client, alice, "Thread", tags=[f"T{n} " for n in range(20)] + ["t0"])
    assert len(made["tags"]) == 20 and made["tags"] == sorted(f"t{n}" for n in range(20))
    refused = await client.post(
        f"/conversations/{made['id']}/tags", json={"tag": "one more"}, headers=alice.headers
    )
    assert refused.status_code == 409 and "20" in refused.json()["detail"]
    present = await client.post(
        f"/conversations/{made['id']}/tags", json={"tag": " T5 "}, headers=alice.headers
    )
    assert present.status_code == 200 and len(present.json()["tags"]) == 20


async def test_favorite_toggles_and_tag_shortcuts_add_and_remove_idempotently(client, alice):
    made = await create(client, alice, "Thread")
    url = f"/conversations/{made['id']}"
    first = await client.post(f"{url}/favorite", headers=alice.headers)
    second = await client.post(f"{url}/favorite", headers=alice.headers)
    assert (first.status_code, first.json(), second.json()) == (
        200,
        {"is_favorite": True},
        {"is_favorite": False},
    )

    added = await client.post(f"{url}/tags", json={"tag": " Maths "}, headers=alice.headers)
    again = await client.post(f"{url}/tags", json={"tag": "maths"}, headers=alice.headers)
    other = await client.post(f"{url}/tags", json={"tag": "bac"}, headers=alice.headers)
    assert (added.status_code, added.json(), again.json()) == (200, {"tags": ["maths"]}, {"tags": ["maths"]})
    assert other.json() == {"tags": ["bac", "maths"]}
    removed = await client.delete(f"{url}/tags/MATHS", headers=alice.headers)
    absent = await client.delete(f"{url}/tags/never", headers=alice.headers)
    assert (removed.status_code, removed.json(), absent.status_code, absent.json()) == (
        200,
        {"tags": ["bac"]},
        200,
        {"tags": ["bac"]},
    )
    after = (await client.get(url, headers=alice.headers)).json()
    assert after["updated_at"] == made["updated_at"] and after["tags"] == ["bac"]


async def test_list_filters_combine_and_total_counts_the_matches(client, alice, bob):
    await create(client, alice, "Algèbre", folder="Maths", tags=["exam", "cours"], is_favorite=True)
    await create(client, alice, "Géométrie", folder="Maths", tags=["cours"])
    await create(client, alice, "Vieux devoir", folder="Maths", tags=["exam"], archived=True)
    await create(client, alice, "Musique", tags=["exam"])
    await create(client, alice, "Loose")
    await create(client, bob, "Bob's algèbre", folder="Maths", tags=["exam"])

    assert await titles(client, alice) == (["Loose", "Musique", "Géométrie", "Algèbre"], 4)
    assert await titles(client, alice, {"folder": "Maths"}) == (["Géométrie", "Algèbre"], 2)
    assert await titles(client, alice, {"folder": ""}) == (["Loose", "Musique"], 2)
    assert await titles(client, alice, {"tag": ["exam"]}) == (["Musique", "Algèbre"], 2)
    assert await titles(client, alice, {"tag": ["exam", "cours"]}) == (["Algèbre"], 1)
    assert await titles(client, alice, {"tag": [" EXAM "], "folder": "Maths"}) == (["Algèbre"], 1)
    assert await titles(client, alice, {"favorite": "true"}) == (["Algèbre"], 1)
    assert await titles(client, alice, {"favorite": "false", "folder": "Maths"}) == (["Géométrie"], 1)
    assert await titles(client, alice, {"archived": "true"}) == (["Vieux devoir"], 1)
    assert (await titles(client, alice, {"archived": "all", "tag": "exam"}))[1] == 3
    assert await titles(client, alice, {"archived": "all", "folder": "Maths", "limit": 1, "offset": 1}) == (
        ["Géométrie"],
        3,
    )
    assert await titles(client, alice, {"tag": "nobody"}) == ([], 0)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("usique", ["Musique"]),
        ("MUSIQUE", ["Musique"]),
        ("ecole", ["École d'été"]),
        ("ÉTÉ", ["École d'été"]),
        ("e", ["École d'été", "Musique"]),
        ("100%", []),
        ("_", []),
    ],
)
async def test_q_is_a_title_substring_ignoring_case_and_accents(client, alice, q, expected):
    await create(client, alice, "Musique")
    await create(client, alice, "École d'été")
    await create(client, alice, "Archivée", archived=True)
    found, total = await titles(client, alice, {"q": q, "sort": "title"})
    assert (found, total) == (expected, len(expected))


async def test_sort_by_title_ignores_case_and_accents_and_dates_are_newest_first(client, alice):
    for title in ["banane", "Écorce", "abricot", "Zèbre", "élan", "Cerise"]:
        await create(client, alice, title)
    by_title, _ = await titles(client, alice, {"sort": "title"})
    assert by_title == ["abricot", "banane", "Cerise", "Écorce", "élan", "Zèbre"]
    created, _ = await titles(client, alice, {"sort": "created_at"})
    assert created == ["Cerise", "élan", "Zèbre", "abricot", "Écorce", "banane"]
    first = (await client.get("/conversations", params={"sort": "created_at"}, headers=alice.headers)).json()
    await client.post(
        "/ai/chat", json={"message": "hi", "conversation_id": first["items"][-1]["id"]}, headers=alice.headers
    )
    assert (await titles(client, alice))[0][0] == "banane"
    assert (await titles(client, alice, {"sort": "created_at"}))[0] == created


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "size"},
        {"archived": "maybe"},
        {"favorite": "perhaps"},
        {"q": "x" * 201},
        {"folder": "x" * 101},
    ],
)
async def test_list_refuses_bad_filters_with_422(client, alice, params):
    assert (await client.get("/conversations", params=params, headers=alice.headers)).status_code == 422


async def test_message_count_and_preview_follow_the_thread(client, alice):
    long_answer = "é" * 300
    turn = await client.post("/ai/chat", json={"message": "first"}, headers=alice.headers)
    conversation_id = turn.json()["conversation_id"]
    listed = (await client.get("/conversations", headers=alice.headers)).json()["items"][0]
    assert (listed["message_count"], listed["preview"]) == (2, "echo: first")
    await client.post(
        "/ai/chat", json={"message": long_answer, "conversation_id": conversation_id}, headers=alice.headers
    )
    one = (await client.get(f"/conversations/{conversation_id}", headers=alice.headers)).json()
    assert one["message_count"] == 4 and one["preview"] == ("echo: " + long_answer)[:120]
    assert (await client.delete(f"/history/{conversation_id}", headers=alice.headers)).status_code in (
        200,
        204,
    )
    cleared = (await client.get(f"/conversations/{conversation_id}", headers=alice.headers)).json()
    assert (cleared["message_count"], cleared["preview"]) == (0, None)


async def test_tags_and_folders_list_with_counts_archived_included_and_scoped(client, alice, bob):
    await create(client, alice, "A", folder="Maths", tags=["exam", "cours"])
    await create(client, alice, "B", folder="Maths", tags=["cours"], archived=True)
    await create(client, alice, "C", folder="Bio")
    await create(client, bob, "D", folder="Secret", tags=["bob"])

    tags = await client.get("/tags", headers=alice.headers)
    folders = await client.get("/folders", headers=alice.headers)
    assert tags.json() == {"items": [{"tag": "cours", "count": 2}, {"tag": "exam", "count": 1}]}
    assert folders.json() == {"items": [{"folder": "Bio", "count": 1}, {"folder": "Maths", "count": 2}]}


async def test_folder_rename_and_delete_move_every_thread_and_404_for_an_unknown_folder(client, alice, bob):
    a = await create(client, alice, "A", folder="Maths")
    await create(client, alice, "B", folder="Maths", archived=True)
    await create(client, alice, "C", folder="Bio")
    await create(client, bob, "D", folder="Maths")

    renamed = await client.patch("/folders/Maths", json={"name": " Mathématiques "}, headers=alice.headers)
    assert (renamed.status_code, renamed.json()) == (200, {"folder": "Mathématiques", "count": 2})
    assert (await client.get(f"/conversations/{a['id']}", headers=alice.headers)).json()["updated_at"] == a[
        "updated_at"
    ]
    assert (await client.get("/folders", headers=bob.headers)).json()["items"] == [
        {"folder": "Maths", "count": 1}
    ]
    gone = await client.patch("/folders/Maths", json={"name": "X"}, headers=alice.headers)
    assert gone.status_code == 404

    merged = await client.patch("/folders/Bio", json={"name": "Mathématiques"}, headers=alice.headers)
    assert merged.json() == {"folder": "Mathématiques", "count": 1}
    emptied = await client.delete("/folders/Mathématiques", headers=alice.headers)
    assert (emptied.status_code, emptied.json()) == (200, {"folder": "Mathématiques", "count": 3})
    assert (await client.get("/folders", headers=alice.headers)).json() == {"items": []}
    assert (await titles(client, alice, {"archived": "all"}))[1] == 3  # the threads stay
    assert (await client.delete("/folders/Mathématiques", headers=alice.headers)).status_code == 404
    assert (await client.patch("/folders/Bio", json={"name": ""}, headers=alice.headers)).status_code == 422


async def test_read_only_fields_in_a_patch_are_ignored(client, alice):
    made = await create(client, alice, "Thread")
    body = {
        "is_favorite": True,
        "message_count": 99,
        "preview": "forged",
        "updated_at": "1970-01-01T00:00:00.000000Z",
    }
    changed = await patch(client, alice, made["id"], **body)
    assert changed == {**made, "is_favorite": True}
