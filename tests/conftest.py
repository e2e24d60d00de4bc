"""Shared fixtures: an app on a temporary data folder, a fake upstream, signed-in users."""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from BackEnd.app import create_app
from BackEnd.config import Settings
from BackEnd.storage import TinyDBDatabase

TEST_API_KEY = "sk-or-test-very-secret-key-0123456789"
TEST_JWT_SECRET = "test-secret-" + "x" * 40


@pytest.fixture
def anyio_backend() -> str:
    """Every `async def` test runs on asyncio (anyio_mode = auto in pytest.ini), as uvicorn does."""
    return "asyncio"


Handler = Callable[[httpx.Request], Any]


@dataclass
class FakeUpstream:
    """An OpenAI-compatible chat server in memory; records every request it gets."""

    requests: list[httpx.Request] = field(default_factory=list)
    handler: Handler | None = None

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.handler is not None:
            result = self.handler(request)
            if inspect.isawaitable(result):
                result = await result
            return result  # type: ignore[no-any-return]
        messages = json.loads(request.content)["messages"]
        return completion(f"echo: {messages[-1]['content']}")

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]


def completion(text: str) -> httpx.Response:
    """A successful chat-completions answer."""
    return httpx.Response(
        200,
        json={
            "id": "gen-1",
            "object": "chat.completion",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
        },
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "BDD"


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for tests: isolated from the machine's environment and `.env`."""
    values: dict[str, Any] = {
        "bdd_dir": data_dir,
        "jwt_secret": TEST_JWT_SECRET,
        "openrouter_api_key": TEST_API_KEY,
        "bcrypt_rounds": 4,
        "chat_memory_messages": 8,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return make_settings(data_dir)


@pytest.fixture
def upstream() -> FakeUpstream:
    return FakeUpstream()


@pytest.fixture
async def app(settings: Settings, upstream: FakeUpstream) -> AsyncIterator[FastAPI]:
    application = create_app(settings, upstream_transport=httpx.MockTransport(upstream.handle))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@dataclass
class Account:
    """A registered, signed-in user."""

    id: str
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def sign_up(client: httpx.AsyncClient, email: str, password: str = "correct horse") -> Account:
    """Register and log in through the API."""
    created = await client.post("/auth/register", json={"email": email, "password": password})
    assert created.status_code == 201, created.text
    login = await client.post("/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    return Account(created.json()["id"], email, password, login.json()["access_token"])


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> Account:
    return await sign_up(client, "alice@example.com")


@pytest.fixture
async def bob(client: httpx.AsyncClient) -> Account:
    return await sign_up(client, "bob@example.com")


@pytest.fixture
async def admin(client: httpx.AsyncClient, app: FastAPI) -> Account:
    account = await sign_up(client, "teacher@example.com")
    app.state.context.database.set_role(account.email, "admin")
    return account


@pytest.fixture
def db(data_dir: Path) -> Iterator[TinyDBDatabase]:
    """The TinyDB backend opened directly on the data folder, for storage-level tests."""
    database = TinyDBDatabase.open(data_dir)
    yield database
    database.close()
