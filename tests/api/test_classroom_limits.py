"""Who may sign up, login throttling, the chat rate and credits, through the API on every backend."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI

from BackEnd.services import classroom_limits
from tests.utils.api import Account, FakeUpstream, change_settings

WRONG = "wrong password"


class Clock:
    """The limits' clock, moved by hand."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 1_900_000_000.0
        monkeypatch.setattr(classroom_limits, "_now", lambda: self.now)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/auth/login", json={"email": email, "password": password})


# -- sign-up -------------------------------------------------------------------------------
async def test_closed_sign_up_is_403_with_the_sentence(client: httpx.AsyncClient, app: FastAPI) -> None:
    change_settings(app, allow_signup=False)
    response = await client.post("/auth/register", json={"email": "ann@lycee.fr", "password": "long enough"})
    assert response.status_code == 403
    assert response.json()["detail"] == "Sign-up is closed; ask your teacher for an account."


async def test_only_listed_domains_may_register_exactly(client: httpx.AsyncClient, app: FastAPI) -> None:
    change_settings(app, allowed_email_domains=["ecole.fr", "lycee.fr"])
    for email, status in (
        ("ann@lycee.fr", 201),
        ("bob@ECOLE.fr", 201),
        ("eve@sub.lycee.fr", 422),
        ("x@gmail.com", 422),
    ):
        response = await client.post("/auth/register", json={"email": email, "password": "long enough"})
        assert response.status_code == status, (email, response.text)
        if status == 422:
            assert "ALLOWED_EMAIL_DOMAINS" in response.json()["detail"]


async def test_new_accounts_get_default_credits(client: httpx.AsyncClient, app: FastAPI) -> None:
    change_settings(app, default_credits=5000)
    response = await client.post("/auth/register", json={"email": "ann@lycee.fr", "password": "long enough"})
    assert response.json()["credits"] == 5000


# -- login throttling ----------------------------------------------------------------------
async def test_five_failures_throttle_the_email_even_with_the_right_password(
    client: httpx.AsyncClient, alice: Account, bob: Account, clock: Clock
) -> None:
    for _ in range(5):
        assert (await _login(client, alice.email, WRONG)).status_code == 401
    refused = await _login(client, alice.email, alice.password)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) == 900
    assert (await _login(client, bob.email, bob.password)).status_code == 200  # another email is not

    clock.now += 600
    assert int((await _login(client, alice.email, alice.password)).headers["Retry-After"]) == 300
    clock.now += 300
    assert (await _login(client, alice.email, alice.password)).status_code == 200


async def test_unknown_emails_are_throttled_exactly_like_known_ones(
    client: httpx.AsyncClient, alice: Account, clock: Clock
) -> None:
    answers = {}
    for email in (alice.email, "nobody@example.com"):
        statuses = [(await _login(client, email, WRONG)).status_code for _ in range(6)]
        last = await _login(client, email, WRONG)
        answers[email] = (statuses, last.status_code, last.headers.get("Retry-After"), last.json())
    assert answers[alice.email] == answers["nobody@example.com"]
    assert answers[alice.email][0] == [401] * 5 + [429]


async def test_a_success_resets_the_email_count(
    client: httpx.AsyncClient, alice: Account, clock: Clock
) -> None:
    for _ in range(4):
        await _login(client, alice.email, WRONG)
    assert (await _login(client, alice.email, alice.password)).status_code == 200
    for _ in range(4):
        assert (await _login(client, alice.email, WRONG)).status_code == 401
    assert (await _login(client, alice.email, alice.password)).status_code == 200


async def test_the_token_route_shares_the_counts(
    client: httpx.AsyncClient, alice: Account, clock: Clock
) -> None:
    for _ in range(3):
        await _login(client, alice.email, WRONG)
    for _ in range(2):
        form = {"username": alice.email, "password": WRONG}
        assert (await client.post("/auth/token", data=form)).status_code == 401
    assert (await _login(client, alice.email, alice.password)).status_code == 429
    form = {"username": alice.email, "password": alice.password}
    assert (await client.post("/auth/token", data=form)).status_code == 429


async def test_an_address_with_too_many_failures_is_throttled(
    client: httpx.AsyncClient, app: FastAPI, alice: Account, clock: Clock
) -> None:
    change_settings(app, login_max_failures_per_address=3)
    for n in range(3):
        assert (await _login(client, f"guess{n}@example.com", WRONG)).status_code == 401
    refused = await _login(client, alice.email, alice.password)
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    clock.now += 901
    assert (await _login(client, alice.email, alice.password)).status_code == 200


# -- chat rate -----------------------------------------------------------------------------
async def test_over_the_chat_rate_is_429_before_the_model_is_asked(
    client: httpx.AsyncClient,
    app: FastAPI,
    upstream: FakeUpstream,
    alice: Account,
    bob: Account,
    clock: Clock,
) -> None:
    change_settings(app, chat_rate_per_minute=2)
    for text in ("one", "two"):
        assert (
            await client.post("/ai/chat", json={"message": text}, headers=alice.headers)
        ).status_code == 200
    asked = len(upstream.requests)

    refused = await client.post("/ai/chat", json={"message": "three"}, headers=alice.headers)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) == 60
    assert len(upstream.requests) == asked
    assert (await client.post("/ai/chat", json={"message": "bob's"}, headers=bob.headers)).status_code == 200

    clock.now += 61
    assert (await client.post("/ai/chat", json={"message": "four"}, headers=alice.headers)).status_code == 200


async def test_a_refused_turn_does_not_count_against_the_rate(
    client: httpx.AsyncClient, app: FastAPI, alice: Account, clock: Clock
) -> None:
    change_settings(app, chat_rate_per_minute=1)
    missing = await client.post(
        "/ai/chat", json={"message": "x", "conversation_id": "conv_nope"}, headers=alice.headers
    )
    assert missing.status_code == 404
    assert (await client.post("/ai/chat", json={"message": "x"}, headers=alice.headers)).status_code == 200


# -- credits -------------------------------------------------------------------------------
def _answer_with_usage(tokens: int) -> object:
    def handle(request: httpx.Request) -> httpx.Response:
        content = json.loads(request.content)["messages"][-1]["content"]
        return httpx.Response(
            200,
            json={
                "id": "gen-1",
                "model": "test/model",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": tokens - 5, "completion_tokens": 5, "total_tokens": tokens},
            },
        )

    return handle


async def test_credits_reaching_zero_mid_class_stop_the_chat_before_the_model(
    client: httpx.AsyncClient, upstream: FakeUpstream, admin: Account, alice: Account, bob: Account
) -> None:
    upstream.handler = _answer_with_usage(20)  # type: ignore[assignment]
    for account in (alice, bob):
        await client.patch(f"/users/{account.id}", json={"credits": 30}, headers=admin.headers)

    assert (await client.post("/ai/chat", json={"message": "one"}, headers=alice.headers)).status_code == 200
    assert (await client.get("/auth/me", headers=alice.headers)).json()["credits"] == 10
    assert (await client.post("/ai/chat", json={"message": "two"}, headers=alice.headers)).status_code == 200
    assert (await client.get("/auth/me", headers=alice.headers)).json()[
        "credits"
    ] == -10  # the turn in flight
    asked = len(upstream.requests)

    refused = await client.post("/ai/chat", json={"message": "three"}, headers=alice.headers)
    assert refused.status_code == 402
    assert refused.json()["detail"] == "No credits left; ask your teacher."
    assert len(upstream.requests) == asked
    assert (await client.post("/ai/chat", json={"message": "bob"}, headers=bob.headers)).status_code == 200

    await client.patch(f"/users/{alice.id}", json={"credits": 100}, headers=admin.headers)
    assert (await client.post("/ai/chat", json={"message": "four"}, headers=alice.headers)).status_code == 200


async def test_unlimited_accounts_never_run_out(
    client: httpx.AsyncClient, upstream: FakeUpstream, alice: Account
) -> None:
    upstream.handler = _answer_with_usage(10**6)  # type: ignore[assignment]
    for text in ("one", "two"):
        assert (
            await client.post("/ai/chat", json={"message": text}, headers=alice.headers)
        ).status_code == 200
    assert (await client.get("/auth/me", headers=alice.headers)).json()["credits"] is None


async def test_a_failed_turn_spends_nothing(
    client: httpx.AsyncClient, upstream: FakeUpstream, admin: Account, alice: Account
) -> None:
    await client.patch(f"/users/{alice.id}", json={"credits": 30}, headers=admin.headers)
    upstream.handler = lambda request: httpx.Response(500, json={"error": {"message": "down"}})
    assert (await client.post("/ai/chat", json={"message": "one"}, headers=alice.headers)).status_code == 502
    assert (await client.get("/auth/me", headers=alice.headers)).json()["credits"] == 30
