"""Shared fixtures: an app on each storage backend, a fake upstream, signed-in users.

Every test that asks for `settings` (hence `app`, `client`, `db`…) runs once per backend:
TinyDB files, SQLite, and PostgreSQL: TEST_DATABASE_URL, or else a scratch database on the local
server when one answers (see `postgres`).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies import models as fastapi_dependency_models
from sqlalchemy import text

from BackEnd.app import create_app
from BackEnd.config import Settings
from BackEnd.storage import Database, TinyDBDatabase, open_database
from BackEnd.storage.sql import SQLDatabase
from tests.utils.api import Account, FakeUpstream, make_settings, refuse_password_hash, sign_up
from tests.utils.records import set_role
from tests.utils.sql import (
    BACKENDS,
    NO_POSTGRES,
    empty_database_url,
    postgres_test_url,
    scratch_database,
    sqlite_url,
)


@pytest.fixture(autouse=True)
def forget_finished_apps() -> Iterator[None]:
    """Let each test's app be garbage once the test ends.

    FastAPI keeps module-level LRU caches (4096 entries) keyed by endpoint functions, and the
    per-app closures (fastapi-offline's docs pages) pin every app built in a session: over a
    thousand apps, hundreds of MB, and slow garbage collection. A served process builds one app.
    """
    yield
    for cached in vars(fastapi_dependency_models).values():
        if callable(getattr(cached, "cache_clear", None)):
            cached.cache_clear()


PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def no_proxy_of_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The upstream client honours the proxy variables: the machine's must not send tests elsewhere."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def anyio_backend() -> str:
    """Every `async def` test runs on asyncio (anyio_mode = auto in pytest.ini), as uvicorn does."""
    return "asyncio"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "BDD"


@pytest.fixture(scope="session")
def postgres() -> Iterator[SQLDatabase]:
    """The PostgreSQL test database, migrated once per session.

    TEST_DATABASE_URL when set (.ci/run sets it); else a scratch database on the local server
    (127.0.0.1:5432, user postgres), dropped when the session ends; else the cases skip.
    """
    url = postgres_test_url()
    with contextlib.nullcontext(url) if url else scratch_database() as found:
        if found is None:
            pytest.skip(NO_POSTGRES)
        database = SQLDatabase.open(found)
        try:
            yield database
        finally:
            database.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated SQLite file that each test copies (quicker than migrating each time)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    SQLDatabase.open(sqlite_url(path)).close()
    return path


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The storage backend under test; a test pins one with `@pytest.mark.parametrize("backend", [...])`."""
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str | None:
    """DATABASE_URL for this backend (None for TinyDB); PostgreSQL is emptied first."""
    return empty_database_url(backend, tmp_path, request)


@pytest.fixture
def settings(data_dir: Path, database_url: str | None) -> Settings:
    return make_settings(data_dir, database_url=database_url)


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
    assert set_role(app.state.context.database, account.email, "admin") is not None
    return account


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    """The configured backend opened directly, for storage-level tests over every backend."""
    database = open_database(settings)
    yield database
    database.close()


@pytest.fixture
def tinydb(data_dir: Path) -> Iterator[TinyDBDatabase]:
    """The TinyDB backend on the data folder, for tests of its files, locks and hand edits."""
    database = TinyDBDatabase.open(data_dir)
    yield database
    database.close()


@pytest.fixture
def new_database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A SQL database of `backend` without any table yet (PostgreSQL: a new database, dropped after)."""
    if backend == "sqlite":
        yield sqlite_url(tmp_path / "new.db")
        return
    server: SQLDatabase = request.getfixturevalue("postgres")
    name = f"assistantia_new_{uuid.uuid4().hex[:12]}"
    admin = server.engine.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield server.engine.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
