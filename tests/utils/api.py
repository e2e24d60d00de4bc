"""Helpers for tests of the HTTP API: a fake upstream, test settings, signed-in accounts."""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from BackEnd.config import Settings

TEST_API_KEY = "sk-or-test-very-secret-key-0123456789"
TEST_JWT_SECRET = "test-secret-" + "x" * 40


Handler = Callable[[httpx.Request], Any]
# What the fake upstream's `GET /models` lists.
FAKE_MODELS = [
    {"id": "openai/gpt-4o-mini", "name": "OpenAI: GPT-4o-mini", "context_length": 128000},
    {"id": "mistralai/mistral-small", "name": "Mistral Small", "context_length": 32000},
]


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
        if request.method == "GET" and request.url.path.endswith("/models"):
            return httpx.Response(200, json={"data": FAKE_MODELS})
        messages = json.loads(request.content)["messages"]
        return completion(f"echo: {message_text(messages[-1])}")

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]


def message_text(message: dict[str, Any]) -> str:
    """A sent message's text, also when it is content parts (a message with images)."""
    content = message["content"]
    if isinstance(content, str):
        return content
    return " ".join(part["text"] for part in content if part["type"] == "text")


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


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for tests: isolated from the machine's environment and `.env`."""
    values: dict[str, Any] = {
        "bdd_dir": data_dir,
        "jwt_secret": TEST_JWT_SECRET,
        "openrouter_api_key": TEST_API_KEY,
        "bcrypt_rounds": 4,
        "chat_memory_messages": 8,
        "chat_rate_per_minute": 0,  # tests that turn it on say so (tests/api/test_classroom_limits.py)
        "auto_titles": False,  # an extra upstream call per new thread: tests/api/routes/test_titles.py turns it on
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


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


async def refuse_password_hash(response: httpx.Response) -> None:
    """An httpx response hook: fail whichever test receives a body that mentions `password_hash`."""
    body = await response.aread()
    assert b"password_hash" not in body, f"{response.request.method} {response.request.url} leaked it"


def change_settings(app: Any, **changes: Any) -> None:
    """Give a running test app other settings (validated values, e.g. a list of domains)."""
    context = app.state.context
    app.state.context = dataclasses.replace(context, settings=context.settings.model_copy(update=changes))
