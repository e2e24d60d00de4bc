"""ENOSPC at every write, fsync and rename of a change: a 503 leaves no trace, a success is kept."""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from BackEnd.app import create_app
from BackEnd.storage import TinyDBDatabase, thread_files
from BackEnd.storage.base import Dump
from BackEnd.storage.signals import LocalSignals
from tests.utils.api import FakeUpstream, make_settings, sign_up
from tests.utils.disk import DiskFaults, digests, leftovers, reopened

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="tells a descriptor's file by /proc/self/fd")

PASSWORD = "long enough"
Headers = dict[str, dict[str, str]]


class Swappable:
    """The app's database, pointed at each case's own folder in turn: one app serves every case."""

    def __init__(self) -> None:
        self.target: TinyDBDatabase | None = None
        self.app: FastAPI | None = None
        self.signals = LocalSignals()  # the app takes it at start-up, before any target is set

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)


@asynccontextmanager
async def _serving(database: Swappable, folder: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The API on `folder`, through a client of an app built once (building one costs more than a case)."""
    assert database.app is not None
    transport = httpx.ASGITransport(app=database.app)
    database.target = TinyDBDatabase.open(folder)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client
    finally:
        database.target.close()


@asynccontextmanager
async def _app() -> AsyncIterator[Swappable]:
    database = Swappable()
    app = create_app(
        make_settings(Path("unused")),
        database=database,  # type: ignore[arg-type]  # a stand-in that forwards to a Database
        upstream_transport=httpx.MockTransport(FakeUpstream().handle),
    )
    database.app = app
    async with app.router.lifespan_context(app):
        yield database


async def _template(database: Swappable, folder: Path) -> tuple[Headers, str]:
    """alice (two threads, one of two turns) and bob (one thread); their tokens and alice's long thread."""
    async with _serving(database, folder) as client:
        headers = {name: (await sign_up(client, f"{name}@example.com")).headers for name in ("alice", "bob")}
        turns = [("alice", "first"), ("alice", "second"), ("alice", "other"), ("bob", "bob's")]
        long_thread = ""
        for name, text in turns:
            body = {"message": text} | ({"conversation_id": long_thread} if text == "second" else {})
            reply = await client.post("/ai/chat", json=body, headers=headers[name])
            assert reply.status_code == 200, reply.text
            long_thread = long_thread or reply.json()["conversation_id"]
    return headers, long_thread


@dataclass(frozen=True)
class Change:
    """A request that changes the data folder, its success status, and how its result shows in a dump."""

    send: Callable[[httpx.AsyncClient, Headers, str], Awaitable[httpx.Response]]
    status: int
    shows: Callable[[Dump, Dump, str], bool]  # (before, after, alice's long thread)


def _messages_of(dump: Dump, conversation_id: str) -> list[str]:
    return [m["content"] for m in dump.messages if m["conversation_id"] == conversation_id]


def _times_agree(dump: Dump) -> bool:
    last = {
        c["id"]: max(m["created_at"] for m in dump.messages if m["conversation_id"] == c["id"])
        for c in dump.conversations
    }
    return all(c["updated_at"] == last[c["id"]] for c in dump.conversations)


CHANGES = {
    "new-thread-turn": Change(
        lambda client, h, _: client.post("/ai/chat", json={"message": "brand new"}, headers=h["alice"]),
        200,
        lambda before, after, _: (
            len(after.conversations) == len(before.conversations) + 1
            and "brand new" in [m["content"] for m in after.messages]
            and _times_agree(after)
        ),
    ),
    "existing-thread-turn": Change(
        lambda client, h, long: client.post(
            "/ai/chat", json={"message": "third", "conversation_id": long}, headers=h["alice"]
        ),
        200,
        lambda before, after, long: (
            _messages_of(after, long) == [*_messages_of(before, long), "third", "echo: third"]
            and _times_agree(after)
        ),
    ),
    "account-deletion": Change(
        lambda client, h, _: client.delete("/users/me", headers=h["alice"]),
        204,
        lambda before, after, _: (
            [u["email"] for u in after.users] == ["bob@example.com"] and len(after.conversations) == 1
        ),
    ),
    "registration": Change(
        lambda client, h, _: client.post(
            "/auth/register", json={"email": "carol@example.com", "password": PASSWORD}
        ),
        201,
        lambda before, after, _: (
            [u["email"] for u in after.users] == [*(u["email"] for u in before.users), "carol@example.com"]
        ),
    ),
}


@pytest.mark.parametrize("stays_full", [False, True], ids=["one-failure", "disk-stays-full"])
@pytest.mark.parametrize("name", CHANGES)
async def test_enospc_at_each_step_gives_a_503_that_changed_nothing_or_a_success_that_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, stays_full: bool
) -> None:
    change = CHANGES[name]
    async with _app() as database:
        await _run_every_fault(database, tmp_path, monkeypatch, change, stays_full)


@pytest.mark.parametrize("stays_full", [False, True], ids=["one-failure", "disk-stays-full"])
async def test_enospc_at_each_step_of_an_in_place_append_gives_a_503_that_changed_nothing_or_a_kept_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stays_full: bool
) -> None:
    monkeypatch.setattr(thread_files, "PATCH_FROM_BYTES", 0)  # a long thread's turn: patched in place
    async with _app() as database:
        await _run_every_fault(database, tmp_path, monkeypatch, CHANGES["existing-thread-turn"], stays_full)


async def _run_every_fault(
    database: Swappable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: Change, stays_full: bool
) -> None:
    headers, long_thread = await _template(database, tmp_path / "template")
    before_files, before = digests(tmp_path / "template"), reopened(tmp_path / "template")
    faults = DiskFaults()
    faults.install(monkeypatch)

    async def attempt(fail_at: int | None) -> str:
        folder = tmp_path / f"case-{fail_at}"
        shutil.copytree(tmp_path / "template", folder)
        async with _serving(database, folder) as client:
            faults.arm(folder, fail_at, stays_full=stays_full)
            response = await change.send(client, headers, long_thread)
            where = f"ENOSPC at call {fail_at} of {faults.calls}"
            assert response.status_code in (change.status, 503), (
                f"{where}: {response.status_code} {response.text}"
            )
            if response.status_code == change.status and stays_full:
                # Committed, maybe not finished: nothing is served on top of it until it is.
                pending = [p.name for p in folder.glob(".journal-*")]
                during = await client.get("/conversations", headers=headers["bob"])
                assert during.status_code in ((503,) if pending else (200, 503)), (
                    f"{where}: {pending} {during.text}"
                )
            faults.disarm()
            after_fault = await client.get("/conversations", headers=headers["bob"])
            assert after_fault.status_code == 200, f"{where}: {after_fault.text}"
            assert leftovers(folder) == [], f"{where}: left {leftovers(folder)}"
            served = database.export_dump()  # the server's memory agrees with the disk
            if response.status_code == 503:
                assert served == before, f"{where}: the server still shows the refused change"
            else:
                assert change.shows(before, served, long_thread), f"{where}: the server lost the change"
        recovered = reopened(folder)
        assert leftovers(folder) == []
        if response.status_code == 503:
            assert digests(folder) == before_files, f"{where}: a refused change left a trace on disk"
            assert recovered == before, f"{where}: a refused change is stored"
        else:
            assert change.shows(before, recovered, long_thread), f"{where}: an acknowledged change is missing"
        shutil.rmtree(folder)
        return str(response.status_code)

    assert await attempt(None) == str(change.status)
    count = len(faults.calls)
    assert count >= 3, f"only {faults.calls}: the fault injection does not see the writes"
    outcomes = [await attempt(fail_at) for fail_at in range(1, count + 1)]
    assert "503" in outcomes and str(change.status) in outcomes, outcomes  # both sides of the commit point
