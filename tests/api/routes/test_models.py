"""`GET /ai/models`: the upstream's list, cached, filtered by ALLOWED_MODELS, never an upstream error."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.utils.api import FAKE_MODELS, Account, FakeUpstream


def model_list_calls(upstream: FakeUpstream) -> int:
    return sum(1 for request in upstream.requests if request.url.path.endswith("/models"))


async def models(client: httpx.AsyncClient, who: Account) -> dict:
    response = await client.get("/ai/models", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_upstreams_list_is_returned_and_cached(
    client: httpx.AsyncClient, upstream: FakeUpstream, alice: Account
) -> None:
    first = await models(client, alice)
    second = await models(client, alice)

    assert first == second == {"items": FAKE_MODELS, "default": "openrouter/auto"}
    assert model_list_calls(upstream) == 1


async def test_the_cache_expires_after_models_cache_seconds(
    client: httpx.AsyncClient,
    app: FastAPI,
    upstream: FakeUpstream,
    alice: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app.state.context.settings, "models_cache_seconds", 0)

    await models(client, alice)
    await models(client, alice)

    assert model_list_calls(upstream) == 2


async def test_the_allow_list_filters_and_completes_the_list(
    client: httpx.AsyncClient, app: FastAPI, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        app.state.context.settings, "allowed_models", ["mistralai/mistral-small", "local/llama"]
    )

    listed = await models(client, alice)

    assert listed["items"] == [
        FAKE_MODELS[1],
        {"id": "local/llama", "name": "local/llama", "context_length": None},  # unknown upstream: bare
    ]


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, json={"error": {"message": "down"}}),
        httpx.Response(404, text="no such route"),
        httpx.Response(200, json={"data": "not a list"}),
        httpx.Response(200, text="<html>"),
        httpx.ConnectError("refused"),
    ],
    ids=["500", "404", "bad-data", "not-json", "unreachable"],
)
async def test_without_a_usable_upstream_list_the_default_or_allow_list_is_offered(
    client: httpx.AsyncClient,
    app: FastAPI,
    upstream: FakeUpstream,
    alice: Account,
    monkeypatch: pytest.MonkeyPatch,
    failure: httpx.Response | Exception,
) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        if isinstance(failure, Exception):
            raise failure
        return failure

    upstream.handler = broken
    alone = await models(client, alice)
    monkeypatch.setattr(app.state.context.settings, "allowed_models", ["a/one", "b/two"])
    allowed = await models(client, alice)

    assert alone["items"] == [{"id": "openrouter/auto", "name": "openrouter/auto", "context_length": None}]
    assert [item["id"] for item in allowed["items"]] == ["a/one", "b/two"]


async def test_the_default_is_the_callers_preferred_model(client: httpx.AsyncClient, alice: Account) -> None:
    await client.patch(
        "/auth/me", json={"preferences": {"model": "openai/gpt-4o-mini"}}, headers=alice.headers
    )

    assert (await models(client, alice))["default"] == "openai/gpt-4o-mini"


async def test_upstream_entries_without_a_usable_id_are_skipped(
    client: httpx.AsyncClient, upstream: FakeUpstream, alice: Account
) -> None:
    # Raw JSON: the escaped lone surrogate is what a broken upstream can really send.
    body = b'{"data": [{"id": "ok/model", "name": "\\ud800", "context_length": true}, {"id": "has space"}, '
    body += b'{"name": "no id"}, "not an object"]}'
    upstream.handler = lambda request: httpx.Response(200, content=body)

    assert (await models(client, alice))["items"] == [
        {"id": "ok/model", "name": "ok/model", "context_length": None}
    ]


async def test_without_an_api_key_the_upstream_is_not_asked_and_the_default_is_offered(
    client: httpx.AsyncClient,
    app: FastAPI,
    upstream: FakeUpstream,
    alice: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app.state.context.settings, "openrouter_api_key", None)

    listed = await models(client, alice)

    assert listed == {
        "items": [{"id": "openrouter/auto", "name": "openrouter/auto", "context_length": None}],
        "default": "openrouter/auto",
    }
    assert upstream.requests == []
