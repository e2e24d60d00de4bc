"""Issue 9 part 3 on every backend: model and sampling parameters, the allow-list, what answers store."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.utils.api import Account, FakeUpstream

USAGE = {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42, "cost": 0.00021}


def answer_with_usage(request: httpx.Request) -> httpx.Response:
    """Answers as OpenRouter does: the model that answered, why it stopped, and the usage."""
    asked = json.loads(request.content)["model"]
    answering = "openai/gpt-4o-mini" if asked == "openrouter/auto" else asked
    return httpx.Response(
        200,
        json={
            "model": answering,
            "choices": [
                {"message": {"role": "assistant", "content": "Bonjour !"}, "finish_reason": "length"}
            ],
            "usage": USAGE,
        },
    )


async def chat(client: httpx.AsyncClient, who: Account, **body: Any) -> httpx.Response:
    return await client.post("/ai/chat", json={"message": "Salut", **body}, headers=who.headers)


def allow(app: FastAPI, monkeypatch: pytest.MonkeyPatch, *models: str) -> None:
    monkeypatch.setattr(app.state.context.settings, "allowed_models", list(models))


async def test_parameters_given_are_sent_upstream_and_those_left_out_are_not(
    client: httpx.AsyncClient, upstream: FakeUpstream, alice: Account
) -> None:
    sent = await chat(
        client, alice, model="mistralai/mistral-small", temperature=0.2, top_p=0.9, max_tokens=64
    )
    plain = await chat(client, alice)

    assert (sent.status_code, plain.status_code) == (200, 200), sent.text
    first, second = upstream.bodies
    assert first["model"] == "mistralai/mistral-small"
    assert (first["temperature"], first["top_p"], first["max_tokens"]) == (0.2, 0.9, 64)
    assert second["model"] == "openrouter/auto"  # OPENROUTER_MODEL
    assert not {"temperature", "top_p", "max_tokens"} & set(second)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", 2.01),
        ("temperature", -0.1),
        ("top_p", 1.5),
        ("top_p", -1),
        ("max_tokens", 0),
        ("max_tokens", 32_001),
        ("max_tokens", 1.5),
        # A boolean or a numeric string is not a number here: lax parsing read false as 0.0.
        ("temperature", False),
        ("top_p", True),
        ("max_tokens", True),
        ("temperature", "1"),
        ("model", ""),
        ("model", "bad model name"),
        ("model", "x" * 201),
    ],
)
async def test_a_parameter_out_of_range_is_a_422_naming_it_and_nothing_is_asked(
    client: httpx.AsyncClient, upstream: FakeUpstream, alice: Account, field: str, value: object
) -> None:
    response = await chat(client, alice, **{field: value})

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", field]]
    assert upstream.requests == []


async def test_the_limits_themselves_are_accepted(
    client: httpx.AsyncClient, upstream: FakeUpstream, alice: Account
) -> None:
    for body in (
        {"temperature": 0, "top_p": 0, "max_tokens": 1},
        {"temperature": 2, "top_p": 1, "max_tokens": 32_000},
    ):
        assert (await chat(client, alice, **body)).status_code == 200
    assert [body["max_tokens"] for body in upstream.bodies] == [1, 32_000]


async def test_a_model_outside_allowed_models_is_a_422_and_one_inside_is_used(
    client: httpx.AsyncClient,
    app: FastAPI,
    upstream: FakeUpstream,
    alice: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    allow(app, monkeypatch, "openai/gpt-4o-mini", "mistralai/mistral-small")

    refused = await chat(client, alice, model="anthropic/claude-opus")
    accepted = await chat(client, alice, model="mistralai/mistral-small")

    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "model"]
    assert "mistralai/mistral-small" in refused.json()["detail"][0]["msg"]
    assert accepted.status_code == 200
    assert [body["model"] for body in upstream.bodies] == ["mistralai/mistral-small"]


async def test_the_answer_and_the_history_carry_model_finish_reason_and_usage(
    client: httpx.AsyncClient, upstream: FakeUpstream, alice: Account
) -> None:
    upstream.handler = answer_with_usage

    reply = (await chat(client, alice)).json()
    history = await client.get(f"/history/{reply['conversation_id']}", headers=alice.headers)

    assert (reply["model"], reply["finish_reason"], reply["usage"]) == ("openai/gpt-4o-mini", "length", USAGE)
    question, answer = history.json()["items"]
    assert (question["model"], question["finish_reason"], question["usage"]) == (None, None, None)
    assert (answer["id"], answer["model"], answer["finish_reason"], answer["usage"]) == (
        reply["assistant_message_id"],
        "openai/gpt-4o-mini",
        "length",
        USAGE,
    )


async def test_an_answer_without_usage_stores_null_usage_and_the_model_asked(
    client: httpx.AsyncClient, alice: Account
) -> None:
    reply = (await chat(client, alice, model="mistralai/mistral-small")).json()
    history = (await client.get(f"/history/{reply['conversation_id']}", headers=alice.headers)).json()

    assert (reply["model"], reply["finish_reason"], reply["usage"]) == (
        "mistralai/mistral-small",
        "stop",
        None,
    )
    assert history["items"][1]["usage"] is None and history["items"][1]["model"] == "mistralai/mistral-small"


async def test_preferences_fill_what_the_request_leaves_out(
    client: httpx.AsyncClient, upstream: FakeUpstream, alice: Account
) -> None:
    preferences = {
        "model": "mistralai/mistral-small",
        "temperature": 1.3,
        "system_prompt": "Réponds en latin.",
    }
    patched = await client.patch("/auth/me", json={"preferences": preferences}, headers=alice.headers)
    assert patched.status_code == 200, patched.text

    await chat(client, alice)
    await chat(client, alice, model="openai/gpt-4o-mini", temperature=0.1)

    defaults, explicit = upstream.bodies
    assert (defaults["model"], defaults["temperature"]) == ("mistralai/mistral-small", 1.3)
    assert defaults["messages"][0] == {"role": "system", "content": "Réponds en latin."}
    assert (explicit["model"], explicit["temperature"]) == ("openai/gpt-4o-mini", 0.1)


async def test_a_preferred_model_the_allow_list_dropped_since_falls_back_to_the_default(
    client: httpx.AsyncClient,
    app: FastAPI,
    upstream: FakeUpstream,
    alice: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await client.patch(
        "/auth/me", json={"preferences": {"model": "mistralai/mistral-small"}}, headers=alice.headers
    )
    allow(app, monkeypatch, "openrouter/auto")

    assert (await chat(client, alice)).status_code == 200
    assert upstream.bodies[0]["model"] == "openrouter/auto"
