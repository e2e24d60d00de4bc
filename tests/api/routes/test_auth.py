"""HTTP tests of /auth: registration, login, the OAuth2 form login and bearer-token checks."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.utils.api import Account, sign_up
from tests.utils.records import set_role
from tests.utils.tokens import alg_none, claims, expired, other_key, signed

PASSWORD = "correct horse"


async def _me_status(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})


async def test_register_returns_public_user_only(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/register", json={"email": "  Carol@Example.COM ", "password": PASSWORD, "name": " Carol "}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "email", "name", "role", "created_at", "is_active", "last_login_at", "credits"}
    assert body["id"].startswith("usr_") and len(body["id"]) > 4
    assert body["email"] == "carol@example.com"
    assert body["name"] == "Carol"
    assert body["role"] == "user"
    assert body["created_at"]


async def test_register_ignores_role_id_hash_and_created_at(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/register",
        json={
            "email": "mallory@example.com",
            "password": PASSWORD,
            "role": "admin",
            "id": "usr_chosenbyclient",
            "password_hash": "$2b$04$notarealhashnotarealhashnotarealhashnotarealhashnot",
            "created_at": "1970-01-01T00:00:00.000000Z",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["role"] == "user"
    assert body["id"] != "usr_chosenbyclient"
    assert body["created_at"] != "1970-01-01T00:00:00.000000Z"
    # The stored account is a plain user whose password is the one sent, not the given hash.
    login = await client.post("/auth/login", json={"email": "mallory@example.com", "password": PASSWORD})
    assert login.status_code == 200
    me = await _me_status(client, login.json()["access_token"])
    assert me.json()["role"] == "user"
    assert me.json()["id"] == body["id"]


async def test_register_name_defaults_to_email_local_part(client: httpx.AsyncClient) -> None:
    without = await client.post("/auth/register", json={"email": "dave@example.com", "password": PASSWORD})
    blank = await client.post(
        "/auth/register", json={"email": "erin@example.com", "password": PASSWORD, "name": "   "}
    )
    assert without.status_code == blank.status_code == 201
    assert without.json()["name"] == "dave"
    assert blank.json()["name"] == "erin"


@pytest.mark.parametrize("email", ["bob@example.com", "BOB@Example.com", "  bob@example.com  "])
async def test_register_duplicate_email_conflicts(
    client: httpx.AsyncClient, bob: Account, email: str
) -> None:
    response = await client.post("/auth/register", json={"email": email, "password": "another password"})
    assert response.status_code == 409, response.text
    assert isinstance(response.json()["detail"], str)
    # The original account still opens with its own password.
    login = await client.post("/auth/login", json={"email": bob.email, "password": bob.password})
    assert login.status_code == 200


@pytest.mark.parametrize(
    "email",
    [
        "",
        "plainaddress",
        "@example.com",
        "user@",
        "user@example",
        "a b@example.com",
        "a@@example.com",
        "user@example.",
        "x" * 250 + "@example.com",
    ],
)
async def test_register_invalid_email_is_422(client: httpx.AsyncClient, email: str) -> None:
    response = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("password", ["", "short", "1234567"])
async def test_register_short_password_is_422(client: httpx.AsyncClient, password: str) -> None:
    response = await client.post("/auth/register", json={"email": "frank@example.com", "password": password})
    assert response.status_code == 422, response.text


async def test_register_password_limit_is_72_utf8_bytes(client: httpx.AsyncClient) -> None:
    too_long = await client.post("/auth/register", json={"email": "gina@example.com", "password": "€" * 25})
    assert too_long.status_code == 422, too_long.text
    fits = await client.post("/auth/register", json={"email": "gina@example.com", "password": "€" * 24})
    assert fits.status_code == 201, fits.text
    login = await client.post("/auth/login", json={"email": "gina@example.com", "password": "€" * 24})
    assert login.status_code == 200


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/auth/register", '{"email": "hank@example.com", "password": "abc\\ud800defgh"}'),
        ("/auth/register", '{"email": "hank\\ud800@example.com", "password": "correct horse"}'),
        ("/auth/register", '{"email": "hank@example.com", "password": "correct horse", "name": "\\ud800"}'),
        ("/auth/login", '{"email": "hank@example.com", "password": "abc\\ud800defgh"}'),
    ],
)
async def test_lone_surrogate_in_credentials_is_422(client: httpx.AsyncClient, path: str, raw: str) -> None:
    # Raw JSON text: the escape reaches the server as a lone surrogate that no UTF-8 file can hold.
    response = await client.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    login = await client.post("/auth/login", json={"email": "hank@example.com", "password": "correct horse"})
    assert login.status_code == 401


async def test_login_returns_bearer_token(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.post("/auth/login", json={"email": alice.email, "password": alice.password})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    me = await _me_status(client, body["access_token"])
    assert me.status_code == 200 and me.json()["id"] == alice.id
    # The email is matched case- and space-insensitively, like at registration.
    again = await client.post(
        "/auth/login", json={"email": " ALICE@example.com ", "password": alice.password}
    )
    assert again.status_code == 200, again.text


async def test_login_unknown_email_and_wrong_password_look_the_same(
    client: httpx.AsyncClient, alice: Account
) -> None:
    unknown = await client.post(
        "/auth/login", json={"email": "nobody@example.com", "password": alice.password}
    )
    wrong = await client.post("/auth/login", json={"email": alice.email, "password": "wrong password"})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
    assert unknown.headers.get("www-authenticate") == "Bearer"
    assert wrong.headers.get("www-authenticate") == "Bearer"


async def test_every_probe_of_an_address_costs_one_bcrypt_hash_on_either_route(
    client: httpx.AsyncClient, app: FastAPI, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The threat model (README, Security): whether an address has an account is not secret,
    # since sign-up must say it is taken; but neither route answers that question more
    # cheaply than a password guess, so probing costs as much as guessing.
    hasher = app.state.context.hasher
    work: list[str] = []
    for name in ("_hash", "_verify"):
        real = getattr(hasher, name)
        monkeypatch.setattr(
            hasher, name, lambda *args, real=real, name=name: work.append(name) or real(*args)
        )

    probes = [
        await client.post("/auth/register", json={"email": alice.email, "password": PASSWORD}),
        await client.post("/auth/login", json={"email": alice.email, "password": "wrong password"}),
        await client.post("/auth/login", json={"email": "nobody@example.com", "password": PASSWORD}),
        await client.post("/auth/register", json={"email": "new@example.com", "password": PASSWORD}),
    ]

    assert [probe.status_code for probe in probes] == [409, 401, 401, 201]
    assert work == ["_hash", "_verify", "_verify", "_hash"]


async def test_login_overlong_password_is_401_not_500(client: httpx.AsyncClient, alice: Account) -> None:
    full = await sign_up(client, "ivan@example.com", password="p" * 72)
    # The first 72 bytes of the last two equal ivan's password: bcrypt's truncation must not let them in.
    for email, password in (
        (alice.email, "a" * 73),
        (full.email, "p" * 73),
        (full.email, "p" * 72 + "€" * 30),
    ):
        response = await client.post("/auth/login", json={"email": email, "password": password})
        assert response.status_code == 401, (password, response.text)
        assert response.headers.get("www-authenticate") == "Bearer"


async def test_token_endpoint_accepts_oauth2_form(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.post(
        "/auth/token", data={"grant_type": "password", "username": alice.email, "password": alice.password}
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "bearer"
    me = await _me_status(client, response.json()["access_token"])
    assert me.json()["email"] == alice.email

    wrong = await client.post("/auth/token", data={"username": alice.email, "password": "nope nope"})
    assert wrong.status_code == 401


async def test_me_returns_caller_without_hash(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.get("/auth/me", headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": alice.id,
        "email": alice.email,
        "name": "alice",
        "role": "user",
        "created_at": response.json()["created_at"],
        "preferences": {"model": None, "temperature": None, "system_prompt": None},
        "is_active": True,
        "last_login_at": response.json()["last_login_at"],
        "credits": None,
    }
    assert "password_hash" not in response.text and "$2b$" not in response.text


async def test_me_without_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/auth/me")
    assert response.status_code == 401
    assert response.headers.get("www-authenticate") == "Bearer"


async def test_hand_signed_token_with_test_secret_is_accepted(
    client: httpx.AsyncClient, alice: Account
) -> None:
    # Control for the rejections below: a token built the same way, but correctly, works.
    assert (await _me_status(client, signed(claims(alice.id)))).status_code == 200


async def test_token_up_to_a_minute_longer_than_the_setting_is_accepted_for_clock_skew(
    client: httpx.AsyncClient, alice: Account
) -> None:
    now = int(time.time())
    # JWT_EXPIRES_MINUTES is 60 in the tests; another server's clock may be a little ahead.
    skewed = signed(claims(alice.id, iat=now + 30, exp=now + 30 + 3600 + 60))
    assert (await _me_status(client, skewed)).status_code == 200


BAD_TOKENS = {
    "garbage": lambda sub: "garbage",
    "three-garbage-parts": lambda sub: "a.b.c",
    "alg-none": alg_none,
    "other-key": other_key,
    "expired": expired,
    "no-exp": lambda sub: signed({"sub": sub, "iat": int(time.time())}),
    "no-iat": lambda sub: signed({"sub": sub, "exp": int(time.time()) + 3600}),
    "exp-in-9999": lambda sub: signed(claims(sub, exp=253_402_300_799)),
    "lifetime-over-setting-plus-skew": lambda sub: signed(claims(sub, exp=int(time.time()) + 3600 + 61)),
    "iat-in-the-future": lambda sub: signed(
        claims(sub, iat=int(time.time()) + 86_400, exp=int(time.time()) + 86_400 + 3600)
    ),
    "unknown-sub": lambda sub: signed(claims("usr_" + "0" * 32)),
    "malformed-sub": lambda sub: signed(claims("../users")),
}


@pytest.mark.parametrize("make_token", list(BAD_TOKENS.values()), ids=list(BAD_TOKENS))
async def test_me_rejects_bad_token(client: httpx.AsyncClient, alice: Account, make_token: Any) -> None:
    response = await _me_status(client, make_token(alice.id))
    assert response.status_code == 401, response.text
    assert response.headers.get("www-authenticate") == "Bearer"
    assert alice.id not in response.text


async def test_token_of_deleted_user_is_401(client: httpx.AsyncClient, alice: Account) -> None:
    deleted = await client.delete("/users/me", headers=alice.headers)
    assert deleted.status_code == 204
    response = await client.get("/auth/me", headers=alice.headers)
    assert response.status_code == 401
    # Re-registering the same email makes a new account that the old token does not open.
    again = await sign_up(client, alice.email)
    assert again.id != alice.id
    assert (await client.get("/auth/me", headers=alice.headers)).status_code == 401


async def test_role_change_applies_to_existing_token(
    client: httpx.AsyncClient, app: FastAPI, alice: Account
) -> None:
    assert (await client.get("/users", headers=alice.headers)).status_code == 403
    set_role(app.state.context.database, alice.email, "admin")
    promoted = await client.get("/users", headers=alice.headers)
    assert promoted.status_code == 200, promoted.text
    assert (await client.get("/auth/me", headers=alice.headers)).json()["role"] == "admin"
    set_role(app.state.context.database, alice.email, "user")
    assert (await client.get("/users", headers=alice.headers)).status_code == 403


async def test_validation_error_does_not_echo_the_submitted_password(client):
    response = await client.post("/auth/register", json={"email": "eve@example.com", "password": "s3cr3t!"})
    assert response.status_code == 422
    assert "s3cr3t!" not in response.text
    assert response.json()["detail"][0]["loc"] == ["body", "password"]
