"""A real server on a real, full file system: a turn answered 503 is nowhere, a turn answered 200 is kept."""

from __future__ import annotations

import os
import random
import shutil
import string
import tempfile
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from BackEnd.app import create_app
from BackEnd.storage.files import TEMP_SUFFIX
from tests.utils.api import FakeUpstream, make_settings, sign_up
from tests.utils.disk import digests, reopened
from tests.utils.fake_upstream import fake_chat_server
from tests.utils.server import running_server
from tests.utils.tmpfs import fill, small_tmpfs

PASSWORD = "long enough"
CLIENTS = 6
TURNS = 8
LEFT_FREE = 256 * 1024  # room for a few turns: some of the load succeeds, then the disk is full


@dataclass
class Turn:
    tag: str
    conversation_id: str | None  # the thread it was sent to; None for a new one
    status: int


@dataclass
class Chatter:
    headers: dict[str, str]
    turns: list[Turn] = field(default_factory=list)

    def run(self, url: str, rng: random.Random, count: int = TURNS) -> None:
        thread: str | None = None
        with httpx.Client(base_url=url, timeout=30, trust_env=False) as http:
            for _ in range(count):
                tag = "".join(rng.choices(string.ascii_lowercase, k=16))
                body: dict[str, str] = {"message": tag + " " + "x" * rng.randint(10_000, 19_000)}
                if thread is not None and rng.random() < 0.8:
                    body["conversation_id"] = thread
                reply = http.post("/ai/chat", json=body, headers=self.headers)
                self.turns.append(Turn(tag, body.get("conversation_id"), reply.status_code))
                if reply.status_code == 200:
                    thread = reply.json()["conversation_id"]


def _stored(http: httpx.Client, headers: dict[str, str]) -> tuple[list[str], list[str]]:
    """Every stored message of the account (their first word: the tag), and what is wrong with the threads."""
    contents: list[str] = []
    problems: list[str] = []
    threads = http.get("/conversations", params={"limit": 100}, headers=headers).json()["items"]
    for thread in threads:
        messages = http.get(f"/history/{thread['id']}", params={"limit": 200}, headers=headers).json()[
            "items"
        ]
        if not messages:
            problems.append(f"thread {thread['id']} has no message: a refused first turn left it")
        elif thread["updated_at"] != messages[-1]["created_at"]:
            problems.append(
                f"thread {thread['id']} updated_at {thread['updated_at']} != {messages[-1]['created_at']}"
            )
        contents += [m["content"].split(" ", 1)[0] for m in messages if m["role"] == "user"]
    return contents, problems


def _sign_up(http: httpx.Client, email: str) -> dict[str, str]:
    assert http.post("/auth/register", json={"email": email, "password": PASSWORD}).status_code == 201
    token = http.post("/auth/login", json={"email": email, "password": PASSWORD}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_turns_on_a_full_tmpfs_are_stored_exactly_when_answered_200(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    print(f"seed {seed}")
    rng = random.Random(seed)
    with small_tmpfs(tmp_path / "disk", "2m") as disk, fake_chat_server() as upstream:
        data_dir = disk / "BDD"
        env = {"OPENROUTER_BASE_URL": upstream.base_url, "OPENROUTER_API_KEY": "sk-test-fake-key"}
        with (
            running_server(data_dir, tmp_path / "server.log", **env) as server,
            httpx.Client(base_url=server.url, timeout=30, trust_env=False) as http,
        ):
            chatters = [Chatter(_sign_up(http, f"user{i}@example.com")) for i in range(CLIENTS)]
            filler = fill(disk, LEFT_FREE)

            workers = [
                threading.Thread(target=c.run, args=(server.url, random.Random(rng.random())))
                for c in chatters
            ]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join(timeout=120)
            assert not any(worker.is_alive() for worker in workers)

            statuses = [turn.status for chatter in chatters for turn in chatter.turns]
            assert set(statuses) <= {200, 503}, statuses
            assert 200 in statuses and 503 in statuses, (
                f"seed {seed}: the disk never filled mid-load: {statuses}"
            )
            for chatter in chatters:
                stored, problems = _stored(http, chatter.headers)
                assert problems == [], f"seed {seed}: {problems}"
                for turn in chatter.turns:
                    kept = stored.count(turn.tag)
                    assert kept == (1 if turn.status == 200 else 0), (
                        f"seed {seed}: {turn} stored {kept} time(s)"
                    )
            assert [p.name for p in data_dir.rglob(f"*{TEMP_SUFFIX}")] == []
            assert "Traceback" not in server.output()

            filler.unlink()  # the administrator frees space: the same clients chat again
            for chatter in chatters:
                chatter.turns.clear()
                chatter.run(server.url, random.Random(rng.random()), count=1)
                assert [turn.status for turn in chatter.turns] == [200]


class Strike:
    """Another program fills the disk for real right after the Nth step (temp made, fsync, rename) of a change."""

    def __init__(self, disk: Path) -> None:
        self.disk = disk
        self.folder: Path | None = None
        self.at: int | None = None
        self.steps: list[str] = []

    def arm(self, folder: Path, at: int | None) -> None:
        self.folder, self.at, self.steps = folder, at, []

    def disarm(self) -> None:
        self.folder = None

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def after(kind: str, real: Callable[..., Any], path_of: Callable[..., str]) -> Callable[..., Any]:
            def step(*args: Any, **kwargs: Any) -> Any:
                result = real(*args, **kwargs)
                if self.folder is not None and path_of(*args, **kwargs).startswith(str(self.folder)):
                    self.steps.append(kind)
                    if len(self.steps) == self.at:
                        fill(self.disk, name="strike")
                return result

            return step

        monkeypatch.setattr(
            tempfile, "mkstemp", after("create", tempfile.mkstemp, lambda **kw: str(kw.get("dir")))
        )
        monkeypatch.setattr(
            os, "fsync", after("fsync", os.fsync, lambda fd: os.readlink(f"/proc/self/fd/{fd}"))
        )
        monkeypatch.setattr(os, "replace", after("replace", os.replace, lambda source, target: str(target)))


@asynccontextmanager
async def _serving(folder: Path) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(make_settings(folder), upstream_transport=httpx.MockTransport(FakeUpstream().handle))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield app, client


async def test_a_disk_filled_at_any_step_of_a_turn_refuses_it_without_trace_or_keeps_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An existing thread: its turn rewrites two files, and undoing the first after the second
    # failed needed space too (tests/storage/test_disk_faults.py injects ENOSPC into every kind).
    with small_tmpfs(tmp_path / "disk", "4m") as disk:
        template = disk / "template"
        async with _serving(template) as (app, client):
            headers = (await sign_up(client, "alice@example.com")).headers
            first = await client.post("/ai/chat", json={"message": "a" * 15_000}, headers=headers)
            long_thread = first.json()["conversation_id"]
            for text in ("b", "c"):
                body = {"message": text * 15_000, "conversation_id": long_thread}
                assert (await client.post("/ai/chat", json=body, headers=headers)).status_code == 200
            before = app.state.context.database.export_dump()
        body = {"message": "d" * 15_000, "conversation_id": long_thread}
        strike = Strike(disk)
        strike.install(monkeypatch)

        async def attempt(at: int | None) -> int:
            folder = disk / f"case-{at}"
            shutil.copytree(template, folder)
            async with _serving(folder) as (app, client):
                strike.arm(folder, at)
                reply = await client.post("/ai/chat", json=body, headers=headers)
                where = f"disk filled after step {at} of {strike.steps}"
                strike.disarm()
                assert reply.status_code in (200, 503), f"{where}: {reply.text}"
                if reply.status_code == 503:  # checked while the disk is still full: nothing to undo
                    assert digests(folder) == digests(template), f"{where}: the refused turn left a trace"
                    assert app.state.context.database.export_dump() == before, f"{where}: the server shows it"
                (disk / "strike").unlink(missing_ok=True)
                assert (await client.get("/conversations", headers=headers)).status_code == 200
            stored = [m["content"][0] for m in reopened(folder).messages]
            assert stored == [
                *(m["content"][0] for m in before.messages),
                *(["d", "e"] if reply.status_code == 200 else []),  # the question, its "echo: d…"
            ]
            shutil.rmtree(folder)
            return reply.status_code

        assert await attempt(None) == 200
        count = len(strike.steps)
        outcomes = [await attempt(at) for at in range(1, count + 1)]
        assert 503 in outcomes and 200 in outcomes, outcomes
