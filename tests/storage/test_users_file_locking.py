"""users.json's write lock: a hand edit is never mistaken for our write, and readers never wait on the lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from BackEnd.storage.files import FileLock
from tests.utils.api import Account, sign_up
from tests.utils.records import file_digests
from tests.utils.server import running_server

PASSWORD = "long enough"
STORAGE_SENTENCE = "The server cannot read or save data right now"
# Bounds on "does not hang", not timings: a reader must answer well before a writer's
# lock wait (3 s) ends, and a refused writer well before a client would give up.
READER_BOUND_SECONDS = 1.5
WRITER_BOUND_SECONDS = 10.0


def _promote_by_hand(users_json: Path, email: str) -> None:
    """What a person does in an editor: rewrite the file in place, taking no lock."""
    document = json.loads(users_json.read_text(encoding="utf-8"))
    for user in document["users"].values():
        if user["email"] == email:
            user["role"] = "admin"
    users_json.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")


def _roles(users_json: Path) -> dict[str, str]:
    document = json.loads(users_json.read_text(encoding="utf-8"))
    return {user["email"]: user["role"] for user in document["users"].values()}


@pytest.mark.parametrize("backend", ["tinydb"])  # users.json is a TinyDB file
@pytest.mark.parametrize("write", ["registration", "account-deletion"])  # one rename; a journal's
async def test_a_hand_edit_saved_just_after_the_servers_rename_survives_the_next_write(
    client: httpx.AsyncClient, alice: Account, data_dir: Path, monkeypatch: pytest.MonkeyPatch, write: str
) -> None:
    users_json = data_dir / "users.json"
    leaving = await sign_up(client, "bob@example.com")
    real_replace = os.replace
    edits: list[str] = []

    def replace_then_edit(source: str, target: str, *args: object, **kwargs: object) -> None:
        real_replace(source, target, *args, **kwargs)  # type: ignore[arg-type]
        if Path(target) == users_json and not edits:
            # The window of issue 15.1: after our rename, before anything else looks at the file.
            _promote_by_hand(users_json, alice.email)
            edits.append(str(target))

    monkeypatch.setattr(os, "replace", replace_then_edit)
    if write == "registration":
        changed = await client.post(
            "/auth/register", json={"email": "dave@example.com", "password": PASSWORD}
        )
    else:
        changed = await client.delete("/users/me", headers=leaving.headers)
    monkeypatch.undo()
    assert changed.status_code in (201, 204), changed.text
    assert edits, "the change never renamed users.json: the window was not exercised"

    carol = await client.post("/auth/register", json={"email": "carol@example.com", "password": PASSWORD})

    assert carol.status_code == 201, carol.text
    roles = _roles(users_json)
    assert roles.pop("alice@example.com") == "admin"  # the hand edit was not overwritten
    assert roles == {"carol@example.com": "user"} | (
        {"bob@example.com": "user", "dave@example.com": "user"} if write == "registration" else {}
    )
    me = await client.get("/auth/me", headers=alice.headers)
    assert me.json()["role"] == "admin"


@pytest.mark.parametrize("backend", ["tinydb"])
async def test_a_write_whose_file_lock_is_refused_answers_503_and_never_writes_unlocked(
    client: httpx.AsyncClient, alice: Account, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Windows' msvcrt lock answers False after its own timeout: that must not mean "go ahead".
    real_acquire = FileLock.acquire

    def refused(self: FileLock, *, blocking: bool) -> bool:
        if self.path.name == ".users.lock":
            return False
        return real_acquire(self, blocking=blocking)

    before = file_digests(data_dir / "users.json")
    monkeypatch.setattr(FileLock, "acquire", refused)
    refused_answer = await client.post(
        "/auth/register", json={"email": "bob@example.com", "password": PASSWORD}
    )
    monkeypatch.undo()

    assert refused_answer.status_code == 503, refused_answer.text
    assert STORAGE_SENTENCE in refused_answer.json()["detail"]
    assert file_digests(data_dir / "users.json") == before
    again = await client.post("/auth/register", json={"email": "bob@example.com", "password": PASSWORD})
    assert again.status_code == 201, again.text


HOLD_LOCK = """
import fcntl, sys
handle = open(sys.argv[1], "a+")
fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()  # until the test closes our stdin: a suspended `python main.py promote`
"""


def _post_in_background(url: str, results: list[httpx.Response | Exception]) -> threading.Thread:
    def post() -> None:
        try:
            with httpx.Client(base_url=url, timeout=WRITER_BOUND_SECONDS, trust_env=False) as http:
                body = {"email": "blocked@example.com", "password": PASSWORD}
                results.append(http.post("/auth/register", json=body))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results.append(exc)

    thread = threading.Thread(target=post)
    thread.start()
    return thread


@pytest.mark.skipif(sys.platform == "win32", reason="holds the lock with fcntl.flock")
def test_a_held_users_lock_never_stalls_readers_and_a_writer_gives_up_with_503(tmp_path: Path) -> None:
    data_dir = tmp_path / "BDD"
    with (
        running_server(data_dir, tmp_path / "server.log") as server,
        httpx.Client(base_url=server.url, timeout=WRITER_BOUND_SECONDS, trust_env=False) as http,
    ):
        assert (
            http.post("/auth/register", json={"email": "alice@example.com", "password": PASSWORD}).status_code
            == 201
        )
        login = http.post("/auth/login", json={"email": "alice@example.com", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        users_json = data_dir / "users.json"

        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, str(data_dir / ".users.lock")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            results: list[httpx.Response | Exception] = []
            writer = _post_in_background(server.url, results)
            time.sleep(0.5)  # lets it reach the lock wait (bcrypt at 4 rounds takes milliseconds)
            # While the registration waits for the lock, someone edits the file: readers must
            # re-read it without waiting for that writer.
            _promote_by_hand(users_json, "alice@example.com")
            edited = file_digests(users_json)
            me = http.get("/auth/me", headers=headers, timeout=READER_BOUND_SECONDS)
            assert me.status_code == 200 and me.json()["role"] == "admin", me.text

            writer.join(timeout=WRITER_BOUND_SECONDS + 5)
            assert not writer.is_alive() and len(results) == 1
            refused = results[0]
            assert isinstance(refused, httpx.Response), (
                f"the blocked registration never answered: {refused!r}"
            )
            assert refused.status_code == 503, refused.text
            assert STORAGE_SENTENCE in refused.json()["detail"]
            assert file_digests(users_json) == edited  # nothing written without the lock
            assert "Traceback" not in server.output()
        finally:
            if holder.stdin is not None:
                holder.stdin.close()  # the lock goes with the holder
            holder.wait(timeout=30)

        again = http.post("/auth/register", json={"email": "blocked@example.com", "password": PASSWORD})
        assert again.status_code == 201, again.text
        assert _roles(users_json) == {"alice@example.com": "admin", "blocked@example.com": "user"}
