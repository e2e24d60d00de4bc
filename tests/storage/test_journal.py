"""Crash recovery of the data folder: a crash at any step leaves the old or the new state, nothing else is deleted."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from BackEnd.errors import DataFileCorrupt
from BackEnd.records import conversation_record, message_record, new_id
from BackEnd.storage import TinyDBDatabase, thread_files
from tests.utils.api import Account, sign_up
from tests.utils.disk import leftovers, reopened
from tests.utils.records import file_digests, populate_folder

Operation = Callable[[httpx.AsyncClient, Account, Account, dict[str, str]], Awaitable[httpx.Response]]


def _write_strangers(data_dir: Path) -> dict[Path, bytes]:
    """Valid files that no record points to (a hand-deleted account, say): start-up must keep them."""
    user_id = new_id("usr")
    thread = conversation_record(user_id, "not ours to delete")
    message = message_record(user_id, thread["id"], "user", "kept")
    files = {
        data_dir / "conversations" / f"{user_id}.json": {"conversations": {"1": thread}},
        data_dir / "historique" / f"{thread['id']}.json": {"messages": {"1": message}},
        data_dir / "historique" / f"{new_id('conv')}.json": {"messages": {}},
    }
    for path, document in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document), encoding="utf-8")
    return {path: path.read_bytes() for path in files}


@pytest.fixture
def strangers(data_dir: Path) -> dict[Path, bytes]:
    TinyDBDatabase.open(data_dir).close()  # a data folder with its (empty) users.json
    return _write_strangers(data_dir)


class CrashImages:
    """Copies of the data folder after every step that changes it: what a crash there leaves."""

    STEPS = (
        ("os", "replace"),
        ("os", "rename"),
        ("os", "unlink"),
        ("os", "link"),
        ("os", "fsync"),
        ("os", "write"),  # an in-place patch: its bytes, then the cut (file_patch.py)
        ("os", "ftruncate"),
    )

    def __init__(self, data_dir: Path, target: Path) -> None:
        self.data_dir, self.target = data_dir, target
        self.images: dict[str, Path] = {}  # by content digest: equal images are recovered once
        self._busy = False

    def take(self) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            files = sorted(p for p in self.data_dir.rglob("*") if p.is_file())
            digest = hashlib.sha256()
            for path in files:
                digest.update(
                    str(path.relative_to(self.data_dir)).encode() + b"\0" + path.read_bytes() + b"\0"
                )
            key = digest.hexdigest()
            if key not in self.images:
                image = self.target / f"{len(self.images):03d}"
                shutil.copytree(self.data_dir, image)
                self.images[key] = image
        finally:
            self._busy = False

    @contextmanager
    def recording(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        modules = {"os": os}
        for module_name, name in self.STEPS:
            monkeypatch.setattr(modules[module_name], name, self._after(getattr(os, name)))
        monkeypatch.setattr(tempfile, "mkstemp", self._after(tempfile.mkstemp))
        self.take()
        try:
            yield
        finally:
            monkeypatch.undo()
            self.take()

    def _after(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def step(*args: Any, **kwargs: Any) -> Any:
            result = real(*args, **kwargs)
            self.take()
            return result

        return step


async def _new_thread(
    client: httpx.AsyncClient, alice: Account, bob: Account, ids: dict[str, str]
) -> httpx.Response:
    return await client.post("/ai/chat", json={"message": "a new thread"}, headers=alice.headers)


async def _next_turn(
    client: httpx.AsyncClient, alice: Account, bob: Account, ids: dict[str, str]
) -> httpx.Response:
    body = {"message": "one more turn", "conversation_id": ids["long"]}
    return await client.post("/ai/chat", json=body, headers=alice.headers)


async def _delete_account(
    client: httpx.AsyncClient, alice: Account, bob: Account, ids: dict[str, str]
) -> httpx.Response:
    return await client.delete("/users/me", headers=alice.headers)


async def _delete_thread(
    client: httpx.AsyncClient, alice: Account, bob: Account, ids: dict[str, str]
) -> httpx.Response:
    return await client.delete(f"/conversations/{ids['long']}", headers=alice.headers)


async def _clear_thread(
    client: httpx.AsyncClient, alice: Account, bob: Account, ids: dict[str, str]
) -> httpx.Response:
    return await client.delete(f"/history/{ids['long']}", headers=alice.headers)


async def _register(
    client: httpx.AsyncClient, alice: Account, bob: Account, ids: dict[str, str]
) -> httpx.Response:
    return await client.post("/auth/register", json={"email": "carol@example.com", "password": "long enough"})


OPERATIONS: dict[str, tuple[Operation, bool]] = {  # name: (operation, whether it changes several files)
    "new-thread-turn": (_new_thread, True),
    "existing-thread-turn": (_next_turn, False),  # only the thread's file: its time is its last message's
    "long-thread-turn": (_next_turn, True),  # the same, patched in place under a journal (a long thread's)
    "account-deletion": (_delete_account, True),
    "thread-deletion": (_delete_thread, True),
    "history-clearing": (_clear_thread, True),  # the record keeps the time the messages took away
    "registration": (_register, False),
}


@pytest.mark.parametrize("backend", ["tinydb"])  # the TinyDB folder's own recovery
@pytest.mark.parametrize("name", OPERATIONS)
async def test_a_crash_at_any_step_recovers_the_old_or_the_new_state_and_deletes_nothing_else(
    strangers: dict[Path, bytes],
    client: httpx.AsyncClient,
    app: FastAPI,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    if name == "long-thread-turn":  # every thread takes its turns as a long one's: patched in place
        monkeypatch.setattr(thread_files, "PATCH_FROM_BYTES", 0)
    alice = await sign_up(client, "alice@example.com")
    bob = await sign_up(client, "bob@example.com")
    first = await client.post("/ai/chat", json={"message": "first"}, headers=alice.headers)
    ids = {"long": first.json()["conversation_id"]}
    await client.post(
        "/ai/chat", json={"message": "second", **{"conversation_id": ids["long"]}}, headers=alice.headers
    )
    await client.post("/ai/chat", json={"message": "other thread"}, headers=alice.headers)
    await client.post("/ai/chat", json={"message": "bob's"}, headers=bob.headers)
    database = app.state.context.database
    before = database.export_dump()
    operation, several_files = OPERATIONS[name]

    crashes = CrashImages(data_dir, tmp_path / "images")
    with crashes.recording(monkeypatch):
        response = await operation(client, alice, bob, ids)
    assert response.status_code in (200, 201, 204), response.text
    after = database.export_dump()
    assert after != before

    outcomes: dict[str, list[str]] = {"old": [], "new": [], "journal": []}
    for image in crashes.images.values():
        had_journal = any(image.glob(".journal-*.json"))
        recovered = reopened(image)
        assert recovered in (before, after), f"{image.name}: a state that is neither the old nor the new one"
        assert leftovers(image) == [], f"{image.name}: start-up left {leftovers(image)}"
        for path, content in strangers.items():
            copy = image / path.relative_to(data_dir)
            assert copy.is_file() and copy.read_bytes() == content, (
                f"{image.name}: start-up deleted {path.name}"
            )
        if had_journal:  # a journal is written at the commit point: finishing it gives the new state
            assert recovered == after, f"{image.name}: a committed journal was not finished"
            outcomes["journal"].append(image.name)
        outcomes["old" if recovered == before else "new"].append(image.name)
    assert outcomes["old"] and outcomes["new"], outcomes
    if several_files:  # else one rename is the commit point
        assert outcomes["journal"], "no crash image held a journal: a multi-file change had no commit point"


def test_start_up_keeps_the_files_of_an_account_deleted_by_hand_and_the_files_of_no_record(
    data_dir: Path, strangers: dict[Path, bytes], caplog: pytest.LogCaptureFixture
) -> None:
    users = populate_folder(data_dir)
    users_json = data_dir / "users.json"
    document = json.loads(users_json.read_text(encoding="utf-8"))
    document["users"] = {
        key: user for key, user in document["users"].items() if user["id"] != users["bob"]["id"]
    }
    users_json.write_text(json.dumps(document, indent=2), encoding="utf-8")  # bob's record, deleted by hand
    before = file_digests(data_dir)

    database = TinyDBDatabase.open(data_dir)
    try:
        dump = database.export_dump()
    finally:
        database.close()

    assert file_digests(data_dir) == before  # nothing deleted, nothing rewritten
    assert [user["email"] for user in dump.users] == ["alice@example.com"]
    assert {c["user_id"] for c in dump.conversations} == {users["alice"]["id"]}
    assert "left in place" in caplog.text  # the administrator is told, not silently cleaned up


def test_a_damaged_journal_stops_start_up_naming_it_and_no_file_changes(
    data_dir: Path, strangers: dict[Path, bytes]
) -> None:
    populate_folder(data_dir)
    journal = data_dir / ".journal-0123456789abcdef.json"
    journal.write_text('{"renames": [["a", "b"]', encoding="utf-8")  # cut short by a crash of the disk
    temp = data_dir / ".users.json.crash.tmp"
    temp.write_text("{}", encoding="utf-8")
    before = file_digests(data_dir)

    with pytest.raises(DataFileCorrupt) as refused:
        TinyDBDatabase.open(data_dir).close()

    assert str(journal) in str(refused.value)
    assert file_digests(data_dir) == before  # not even the temp file: a refused start-up changes nothing
