"""Shared fixtures: an app on a temporary data folder, a fake upstream, signed-in users."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from BackEnd.app import create_app
from BackEnd.config import Settings
from BackEnd.storage import TinyDBDatabase
from tests.utils.api import Account, FakeUpstream, make_settings, refuse_password_hash, sign_up


@pytest.fixture
def anyio_backend() -> str:
    """Every `async def` test runs on asyncio (anyio_mode = auto in pytest.ini), as uvicorn does."""
    return "asyncio"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "BDD"


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
    # Every response of every test is checked: no body may ever contain a password hash.
    hooks = {"response": [refuse_password_hash]}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", event_hooks=hooks
    ) as http:
        yield http


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
