"""`python main.py` as people run it: serve, start-up refusals, promote/demote, dump and restore."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx
import pytest

from tests.utils.records import PASSWORD, json_snapshot, populate_folder
from tests.utils.server import ServerProcess, run_cli, running_server


def _token(url: str, email: str, password: str = PASSWORD) -> dict[str, str]:
    login = httpx.post(f"{url}/auth/login", json={"email": email, "password": password}, trust_env=False)
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def _records(dump_file: Path) -> dict[str, list]:  # type: ignore[type-arg]
    document = json.loads(dump_file.read_text(encoding="utf-8"))
    assert document["format"] == "assistantia-dump"
    return {name: document[name] for name in ("users", "conversations", "messages")}


def test_plain_python_main_serves_status_and_docs_without_env_file(tmp_path: Path, data_dir: Path) -> None:
    workdir = tmp_path / "empty-workdir"  # no .env here, whatever the repository holds
    workdir.mkdir()
    server = ServerProcess(data_dir, tmp_path / "server.log", cwd=workdir)
    try:
        server.wait_ready()
        assert httpx.get(f"{server.url}/", trust_env=False).json() == {"status": "online"}
        assert httpx.get(f"{server.url}/docs", trust_env=False).status_code == 200
    finally:
        server.stop()
    assert data_dir.is_dir()


def test_generated_jwt_secret_is_private_and_tokens_survive_a_restart(tmp_path: Path, data_dir: Path) -> None:
    with running_server(data_dir, tmp_path / "first.log", JWT_SECRET=None) as server:
        created = httpx.post(
            f"{server.url}/auth/register",
            json={"email": "ann@example.com", "password": PASSWORD},
            trust_env=False,
        )
        assert created.status_code == 201, created.text
        headers = _token(server.url, "ann@example.com")
    secret_file = data_dir / ".jwt_secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = secret_file.read_bytes()
    assert len(secret.strip()) >= 128  # 512 random bits in hex: enough for every algorithm, HS512 too

    with running_server(data_dir, tmp_path / "second.log", JWT_SECRET=None) as server:
        me = httpx.get(f"{server.url}/auth/me", headers=headers, trust_env=False)
        assert me.status_code == 200, me.text
        assert me.json()["email"] == "ann@example.com"
    assert secret_file.read_bytes() == secret


def test_promote_and_demote_while_the_server_runs_apply_to_the_next_request(
    tmp_path: Path, data_dir: Path
) -> None:
    populate_folder(data_dir)
    with running_server(data_dir, tmp_path / "server.log") as server:
        headers = _token(server.url, "alice@example.com")
        assert httpx.get(f"{server.url}/users", headers=headers, trust_env=False).status_code == 403

        promoted = run_cli("promote", "Alice@Example.com", data_dir=data_dir)
        assert promoted.returncode == 0, promoted.stderr
        assert "alice@example.com is now admin" in promoted.stdout
        listed = httpx.get(f"{server.url}/users", headers=headers, trust_env=False)
        assert listed.status_code == 200, listed.text
        assert {u["email"]: u["role"] for u in listed.json()["items"]}["alice@example.com"] == "admin"

        demoted = run_cli("demote", "alice@example.com", data_dir=data_dir)
        assert demoted.returncode == 0, demoted.stderr
        assert httpx.get(f"{server.url}/users", headers=headers, trust_env=False).status_code == 403


def test_promote_unknown_email_exits_1_and_leaves_users_json_unchanged(data_dir: Path) -> None:
    populate_folder(data_dir)
    before = (data_dir / "users.json").read_bytes()

    result = run_cli("promote", "nobody@example.com", data_dir=data_dir)

    assert result.returncode == 1
    assert "nobody@example.com" in result.stderr
    assert (data_dir / "users.json").read_bytes() == before


def test_promote_without_any_account_exits_1(data_dir: Path) -> None:
    result = run_cli("promote", "ann@example.com", data_dir=data_dir)
    assert result.returncode == 1
    assert "users.json" in result.stderr and "Traceback" not in result.stderr


def test_dump_restore_dump_round_trip_keeps_every_record(tmp_path: Path, data_dir: Path) -> None:
    users = populate_folder(data_dir)
    first, second, copy = tmp_path / "first.json", tmp_path / "second.json", tmp_path / "copy"

    dumped = run_cli("dump", str(first), data_dir=data_dir)
    assert dumped.returncode == 0, dumped.stderr
    restored = run_cli("restore", str(first), data_dir=copy)
    assert restored.returncode == 0, restored.stderr
    again = run_cli("dump", str(second), data_dir=copy)
    assert again.returncode == 0, again.stderr

    original = _records(first)
    assert _records(second) == original
    assert [u["id"] for u in original["users"]] == [users["alice"]["id"], users["bob"]["id"]]
    assert (len(original["conversations"]), len(original["messages"])) == (3, 8)
    assert "ça va ? ünïcödé" in {m["content"] for m in original["messages"]}


def test_piped_dump_and_restore_print_only_their_one_line_summaries(tmp_path: Path, data_dir: Path) -> None:
    populate_folder(data_dir)
    dump_file = tmp_path / "dump.json"

    dumped = run_cli("dump", str(dump_file), data_dir=data_dir)
    restored = run_cli("restore", str(dump_file), data_dir=tmp_path / "copy")

    document = json.loads(dump_file.read_text(encoding="utf-8"))
    sections = ("users", "conversations", "messages", "usage", "audit", "files")
    total = sum(len(document[name]) for name in sections)
    assert dumped.returncode == 0 and restored.returncode == 0, dumped.stderr + restored.stderr
    assert "\r" not in dumped.stderr + restored.stderr  # no live line when piped
    assert dumped.stderr.startswith(f"dump: {total:,} records in ")
    assert [line.split(":")[0] for line in restored.stderr.splitlines()] == ["restore", "restore"]


def test_restore_into_a_non_empty_folder_exits_1_and_changes_nothing(tmp_path: Path, data_dir: Path) -> None:
    populate_folder(data_dir)
    dump_file = tmp_path / "dump.json"
    assert run_cli("dump", str(dump_file), data_dir=data_dir).returncode == 0
    before = json_snapshot(data_dir)

    result = run_cli("restore", str(dump_file), data_dir=data_dir)

    assert result.returncode == 1
    assert "not empty" in result.stderr
    assert json_snapshot(data_dir) == before


def _unknown_conversation(document: dict) -> dict:  # type: ignore[type-arg]
    document["messages"][0]["conversation_id"] = "conv_doesnotexist"
    return document


def _bad_last_message(document: dict) -> dict:  # type: ignore[type-arg]
    document["messages"][-1]["created_at"] = "yesterday"
    return document


MALFORMED = {
    "bad last message": (_bad_last_message, "messages[7] has a malformed created_at"),
    "wrong format": (lambda document: dict(document, format="something-else"), "not an AssistantIA dump"),
    "unknown conversation": (_unknown_conversation, "unknown conversation"),
    "user without email": (
        lambda d: dict(d, users=[dict(d["users"][0], email=None)]),
        "has no valid 'email'",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_restore_of_a_malformed_dump_exits_1_with_a_clear_message_and_adds_no_user(
    tmp_path: Path, data_dir: Path, case: str
) -> None:
    populate_folder(data_dir)
    dump_file, target = tmp_path / "dump.json", tmp_path / "target"
    assert run_cli("dump", str(dump_file), data_dir=data_dir).returncode == 0
    spoil, expected = MALFORMED[case]
    dump_file.write_text(json.dumps(spoil(json.loads(dump_file.read_text()))), encoding="utf-8")

    result = run_cli("restore", str(dump_file), data_dir=target)

    assert result.returncode == 1
    assert expected in result.stderr and "Traceback" not in result.stderr
    users_json = target / "users.json"
    assert not users_json.exists() or not json.loads(users_json.read_text()).get("users")
    assert not target.exists() or not any(target.rglob("*.json"))
