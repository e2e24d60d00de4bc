"""A lost users.json, a data folder made unreadable or deleted: 503 and one log line, never lost accounts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.utils.api import Account
from tests.utils.records import file_digests, populate_folder
from tests.utils.server import MAIN, REPO, ServerProcess, cli_env, free_port, run_cli

PASSWORD = "long enough"
STORAGE_SENTENCE = (
    "The server cannot read or save data right now; the administrator must check the server log."
)
# Root ignores permission bits; without these capabilities it obeys them like any other user.
WITHOUT_ROOT_POWERS = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner"]
AS_ROOT = getattr(os, "geteuid", lambda: -1)() == 0


def test_a_data_folder_with_conversations_but_no_users_json_refuses_to_start_and_changes_nothing(
    data_dir: Path,
) -> None:
    populate_folder(data_dir)
    (data_dir / "users.json").rename(data_dir.parent / "users.json.bak")
    before = file_digests(data_dir)

    result = run_cli(data_dir=data_dir, PORT=str(free_port()), timeout=30)

    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert str(data_dir) in lines[0] and "users.json" in lines[0], lines[0]
    assert file_digests(data_dir) == before  # not one conversation or history file swept


async def _answers(client: httpx.AsyncClient, alice: Account) -> dict[str, int]:
    """The status of every kind of route that needs the accounts."""
    return {
        "me": (await client.get("/auth/me", headers=alice.headers)).status_code,
        "threads": (await client.get("/conversations", headers=alice.headers)).status_code,
        "login": (
            await client.post("/auth/login", json={"email": alice.email, "password": alice.password})
        ).status_code,
        "register": (
            await client.post("/auth/register", json={"email": "newcomer@example.com", "password": PASSWORD})
        ).status_code,
    }


@pytest.mark.parametrize("backend", ["tinydb"])  # users.json is a TinyDB file
async def test_users_json_moved_away_while_serving_gives_503s_and_is_never_written_afresh(
    client: httpx.AsyncClient, alice: Account, data_dir: Path
) -> None:
    chat = await client.post("/conversations", json={"title": "kept"}, headers=alice.headers)
    assert chat.status_code == 201
    users_json, moved = data_dir / "users.json", data_dir.parent / "users.json.bak"
    users_json.rename(moved)

    answers = await _answers(client, alice)
    refused = await client.get("/auth/me", headers=alice.headers)

    assert answers == {"me": 503, "threads": 503, "login": 503, "register": 503}  # never 401, never 201
    assert refused.json() == {"detail": STORAGE_SENTENCE}
    assert not users_json.exists()  # no fresh file holding only the newcomer

    moved.rename(users_json)
    me = await client.get("/auth/me", headers=alice.headers)
    assert me.status_code == 200 and me.json()["email"] == alice.email
    threads = await client.get("/conversations", headers=alice.headers)
    assert [thread["title"] for thread in threads.json()["items"]] == ["kept"]


class UnprivilegedServer(ServerProcess):
    """`python main.py` for whom file permissions count, even when the tests run as root."""

    def __init__(self, data_dir: Path, log_path: Path) -> None:  # noqa: D107 - the parent's, with a prefix
        prefix = WITHOUT_ROOT_POWERS if AS_ROOT else []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [*prefix, sys.executable, str(MAIN)],
            cwd=REPO,
            env=cli_env(data_dir, PORT=str(self.port)),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )


def _new_log_lines(server: ServerProcess, seen: int) -> list[str]:
    return [line for line in server.output().splitlines()[seen:] if line.strip()]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions and folder removal")
@pytest.mark.skipif(
    AS_ROOT and shutil.which("setpriv") is None,
    reason="as root, permissions bite only with setpriv (util-linux) to drop CAP_DAC_OVERRIDE",
)
def test_an_unreadable_or_removed_data_folder_gives_503_naming_it_and_never_two_owners(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "BDD"
    first = UnprivilegedServer(data_dir, tmp_path / "first.log")
    second: ServerProcess | None = None
    try:
        first.wait_ready()
        with httpx.Client(base_url=first.url, timeout=15, trust_env=False) as http:
            assert (
                http.post(
                    "/auth/register", json={"email": "alice@example.com", "password": PASSWORD}
                ).status_code
                == 201
            )
            token = http.post(
                "/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}

            os.chmod(data_dir, 0)
            try:
                seen = len(first.output().splitlines())
                refused = http.get("/auth/me", headers=headers)
                logged = _new_log_lines(first, seen)
            finally:
                os.chmod(data_dir, 0o755)
            assert refused.status_code == 503 and refused.json() == {"detail": STORAGE_SENTENCE}, refused.text
            about_it = [line for line in logged if str(data_dir) in line]
            assert len(about_it) == 1 and "Permission denied" in about_it[0], logged
            assert "Traceback" not in first.output()
            assert http.get("/auth/me", headers=headers).status_code == 200  # recovered once readable again

            shutil.rmtree(data_dir)
            seen = len(first.output().splitlines())
            gone = {
                "me": http.get("/auth/me", headers=headers),
                "register": http.post(
                    "/auth/register", json={"email": "bob@example.com", "password": PASSWORD}
                ),
            }
            assert {name: r.status_code for name, r in gone.items()} == {"me": 503, "register": 503}
            about_it = [line for line in _new_log_lines(first, seen) if str(data_dir) in line]
            assert len(about_it) == 2 and "removed" in about_it[0], about_it  # one line per refusal
            assert not data_dir.exists()  # nothing was written into the void

            # A new, empty folder at the same path: a second server may take it, so the first,
            # whose lock file went with the old folder, must never serve from it again.
            data_dir.mkdir()
            assert http.get("/auth/me", headers=headers).status_code == 503
            second = UnprivilegedServer(data_dir, tmp_path / "second.log")
            second.wait_ready()
            with httpx.Client(base_url=second.url, timeout=15, trust_env=False) as other:
                assert (
                    other.post(
                        "/auth/register", json={"email": "bob@example.com", "password": PASSWORD}
                    ).status_code
                    == 201
                )
            assert http.get("/auth/me", headers=headers).status_code == 503
            after = http.post("/auth/register", json={"email": "carol@example.com", "password": PASSWORD})
            assert after.status_code == 503, after.text
            assert "Traceback" not in first.output() + second.output()
    finally:
        first.stop()
        if second is not None:
            second.stop()
