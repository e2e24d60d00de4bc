"""Issue 9 part 4 on every backend: `GET /auth/me` shows preferences, `PATCH /auth/me` changes them."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.utils.api import Account

NO_PREFERENCES = {"model": None, "temperature": None, "system_prompt": None}


async def me(client: httpx.AsyncClient, who: Account) -> dict:
    response = await client.get("/auth/me", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def patch(client: httpx.AsyncClient, who: Account, body: object) -> httpx.Response:
    return await client.patch("/auth/me", json=body, headers=who.headers)


async def test_preferences_are_null_until_set_and_the_spa_fields_stay(
    client: httpx.AsyncClient, alice: Account
) -> None:
    profile = await me(client, alice)

    assert profile["preferences"] == NO_PREFERENCES
    assert (profile["id"], profile["email"], profile["role"]) == (alice.id, alice.email, "user")


async def test_patch_changes_name_and_preferences_and_they_persist(
    client: httpx.AsyncClient, alice: Account
) -> None:
    body = {"name": "  Alice L.  ", "preferences": {"model": "openai/gpt-4o-mini", "temperature": 0.7}}
    patched = await patch(client, alice, body)

    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Alice L."
    expected = {"model": "openai/gpt-4o-mini", "temperature": 0.7, "system_prompt": None}
    assert patched.json()["preferences"] == expected
    assert (await me(client, alice))["preferences"] == expected


async def test_a_field_left_out_stays_and_one_sent_as_null_is_reset(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await patch(client, alice, {"preferences": {"model": "openai/gpt-4o-mini", "system_prompt": "Be brief."}})
    await patch(client, alice, {"preferences": {"temperature": 1.0}})
    assert (await me(client, alice))["preferences"] == {
        "model": "openai/gpt-4o-mini",
        "temperature": 1.0,
        "system_prompt": "Be brief.",
    }

    await patch(client, alice, {"preferences": {"model": None, "system_prompt": "   "}})
    assert (await me(client, alice))["preferences"] == {**NO_PREFERENCES, "temperature": 1.0}


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"name": ""}, ["body", "name"]),
        ({"name": "x" * 101}, ["body", "name"]),
        ({"name": "a\nb"}, ["body", "name"]),
        ({"preferences": {"temperature": 2.5}}, ["body", "preferences", "temperature"]),
        ({"preferences": {"model": "not a model"}}, ["body", "preferences", "model"]),
        ({"preferences": {"system_prompt": "x" * 4001}}, ["body", "preferences", "system_prompt"]),
        ({"preferences": {"system_prompt": "a\x00b"}}, ["body", "preferences", "system_prompt"]),
    ],
)
async def test_invalid_changes_are_a_422_naming_the_field_and_change_nothing(
    client: httpx.AsyncClient, alice: Account, body: dict, location: list[str]
) -> None:
    before = await me(client, alice)
    response = await patch(client, alice, body)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == location
    assert await me(client, alice) == before


async def test_a_system_prompt_of_4000_characters_is_accepted(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await patch(client, alice, {"preferences": {"system_prompt": "é" * 4000}})

    assert response.status_code == 200
    assert len(response.json()["preferences"]["system_prompt"]) == 4000


async def test_a_preferred_model_outside_allowed_models_is_refused(
    client: httpx.AsyncClient, app: FastAPI, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.state.context.settings, "allowed_models", ["openai/gpt-4o-mini"])

    refused = await patch(client, alice, {"preferences": {"model": "mistralai/mistral-small"}})
    accepted = await patch(client, alice, {"preferences": {"model": "openai/gpt-4o-mini"}})

    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "preferences", "model"]
    assert accepted.status_code == 200


async def test_role_email_and_id_sent_to_patch_are_ignored(client: httpx.AsyncClient, alice: Account) -> None:
    before = await me(client, alice)
    response = await patch(
        client,
        alice,
        {
            "role": "admin",
            "email": "mallory@example.com",
            "id": "usr_other",
            "created_at": "2000-01-01",
            "name": "A",
        },
    )

    assert response.status_code == 200
    after = await me(client, alice)
    assert {key: after[key] for key in ("id", "email", "role", "created_at")} == {
        key: before[key] for key in ("id", "email", "role", "created_at")
    }
    assert after["name"] == "A"
    admin_only = await client.get("/users", headers=alice.headers)
    assert admin_only.status_code == 403
