"""Two server processes on one PostgreSQL database: revocation, deactivation and throttles hold in both."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from BackEnd.storage.sql import SQLDatabase
from tests.utils.fake_upstream import fake_chat_server
from tests.utils.server import running_server
from tests.utils.sql import empty_tables

PASSWORD = "correct horse"
DISABLED = "This account is disabled."


@pytest.fixture
def two_servers(postgres: SQLDatabase, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two servers sharing the PostgreSQL test database (and nothing else but JWT_SECRET)."""
    empty_tables(postgres.engine)
    with fake_chat_server() as upstream, ExitStack() as stack:
        env: dict[str, str | None] = {
            "DATABASE_URL": postgres.engine.url.render_as_string(hide_password=False),
            "OPENROUTER_BASE_URL": upstream.base_url,
            "OPENROUTER_API_KEY": "sk-test-fake-key",
            "CHAT_RATE_PER_MINUTE": "3",
        }
        servers = [
            stack.enter_context(running_server(tmp_path / name, tmp_path / f"{name}.log", **env))
            for name in "ab"
        ]
        yield servers[0].url, servers[1].url


def _client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, trust_env=False, timeout=30)


def _login(url: str, email: str, password: str = PASSWORD) -> httpx.Response:
    with _client(url) as http:
        return http.post("/auth/login", json={"email": email, "password": password})


def _headers(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _me(url: str, headers: dict[str, str]) -> httpx.Response:
    with _client(url) as http:
        return http.get("/auth/me", headers=headers)


def _register(url: str, email: str) -> str:
    with _client(url) as http:
        created = http.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_revocation_and_deactivation_hold_in_every_process(
    postgres: SQLDatabase, two_servers: tuple[str, str]
) -> None:
    a, b = two_servers
    ann_id = _register(a, "ann@example.com")
    _register(a, "teacher@example.com")
    with postgres.engine.begin() as connection:
        connection.execute(text("UPDATE users SET role = 'admin' WHERE email = 'teacher@example.com'"))
    teacher = _headers(_login(b, "teacher@example.com"))

    first = _headers(_login(a, "ann@example.com"))
    assert _me(b, first).status_code == 200
    with _client(a) as http:
        changed = http.post(
            "/auth/me/password",
            json={"current_password": PASSWORD, "new_password": "another one"},
            headers=first,
        )
    fresh = _headers(changed)
    assert _me(b, first).status_code == 401
    assert _me(b, fresh).status_code == 200

    with _client(b) as http:
        assert http.post("/auth/logout-all", headers=fresh).status_code == 204
    assert _me(a, fresh).status_code == 401

    current = _headers(_login(b, "ann@example.com", "another one"))
    with _client(a) as http:
        assert http.patch(f"/users/{ann_id}", json={"is_active": False}, headers=teacher).status_code == 200
    refused = _me(b, current)
    assert refused.status_code == 401 and refused.json()["detail"] == DISABLED
    login = _login(b, "ann@example.com", "another one")
    assert login.status_code == 403 and login.json()["detail"] == DISABLED

    with _client(b) as http:
        assert http.patch(f"/users/{ann_id}", json={"is_active": True}, headers=teacher).status_code == 200
    assert _me(a, current).status_code == 401  # stays revoked after reactivation
    assert _me(a, _headers(_login(a, "ann@example.com", "another one"))).status_code == 200


def test_login_throttling_and_the_chat_rate_are_shared_by_the_processes(two_servers: tuple[str, str]) -> None:
    a, b = two_servers
    _register(a, "ann@example.com")
    for url in (a, b, a, b, a):
        assert _login(url, "ann@example.com", "wrong password").status_code == 401
    for url in (a, b):
        throttled = _login(url, "ann@example.com")
        assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0

    _register(b, "bob@example.com")
    bob = _headers(_login(b, "bob@example.com"))
    statuses = []
    for url in (a, b, a, b):
        with _client(url) as http:
            statuses.append(http.post("/ai/chat", json={"message": "hi"}, headers=bob).status_code)
    assert statuses == [200, 200, 200, 429]
