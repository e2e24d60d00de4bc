"""`python main.py` refuses to start on a damaged or busy data folder: one line naming the cause, no file changed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.utils.records import as_layout_1, file_digests, populate_folder
from tests.utils.server import free_port, run_cli, running_server

DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "corrupt": lambda good: b"\x00\xffnot json at all",
    "truncated": lambda good: good[: len(good) // 2],
    "empty": lambda good: b"",
}
REASONS = {"corrupt": "invalid JSON", "truncated": "invalid JSON", "empty": "the file is empty"}


def _data_files(data_dir: Path) -> dict[str, Path]:
    users = populate_folder(data_dir)
    conversations = data_dir / "conversations" / f"{users['bob']['id']}.json"
    (thread,) = json.loads(conversations.read_text())["conversations"].values()
    alices = json.loads((data_dir / "conversations" / f"{users['alice']['id']}.json").read_text())
    return {
        "users.json": data_dir / "users.json",
        "conversations": conversations,
        "history": data_dir / "historique" / f"{thread['id']}.json",
        "alices-thread": data_dir / "historique" / f"{alices['conversations']['1']['id']}.json",
    }


def _leave_crash_leftovers(data_dir: Path, late_thread: Path) -> None:
    """What a crash leaves and a healthy start-up would clean: a temp file, orphans, a late turn."""
    (data_dir / ".users.json.123.tmp").write_bytes(b'{"users": {"1": {"ha')
    (data_dir / "historique" / "conv_orphan.json").write_text('{"messages": {}}')
    (data_dir / "conversations" / "usr_vanished.json").write_text('{"conversations": {}}')
    document = json.loads(late_thread.read_text())
    last = max(document["messages"].values(), key=lambda message: message["created_at"])
    document["messages"]["99"] = dict(last, id="msg_late", created_at="2999-01-01T00:00:00.000000Z")
    late_thread.write_text(json.dumps(document))


def _assert_refused(result_stderr: str, returncode: int, *fragments: str) -> None:
    assert returncode == 1, result_stderr
    lines = result_stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result_stderr  # one clear line
    for fragment in fragments:
        assert fragment in lines[0], result_stderr


# Every damage on every kind of file is checked at the storage level (tests/storage/
# test_tinydb_startup.py); through the real process, each damage once, each kind once.
@pytest.mark.parametrize(
    ("kind", "damage"), [("users.json", "corrupt"), ("conversations", "truncated"), ("history", "empty")]
)
def test_damaged_data_file_stops_start_up_naming_it_and_no_file_changes(
    data_dir: Path, kind: str, damage: str
) -> None:
    files = _data_files(data_dir)
    target = files[kind]
    if kind == "history":  # history files are read whole only by a conversion; later, on first read
        as_layout_1(data_dir)
    target.write_bytes(DAMAGE[damage](target.read_bytes()))
    # Start-up would clean these up, but only in a folder it accepts.
    _leave_crash_leftovers(data_dir, files["alices-thread"])
    before = file_digests(data_dir)

    result = run_cli(data_dir=data_dir, PORT=str(free_port()), timeout=30)

    _assert_refused(result.stderr, result.returncode, str(target), REASONS[damage])
    assert file_digests(data_dir) == before


@pytest.mark.parametrize("content", [b"", b"short\n"], ids=["empty", "too-short"])
def test_damaged_generated_jwt_key_stops_start_up_naming_it_and_no_file_changes(
    data_dir: Path, content: bytes
) -> None:
    _data_files(data_dir)
    key = data_dir / ".jwt_secret"
    key.write_bytes(content)
    before = file_digests(data_dir)

    result = run_cli(data_dir=data_dir, PORT=str(free_port()), timeout=30, JWT_SECRET=None)

    _assert_refused(result.stderr, result.returncode, str(key), "shorter than 32 characters")
    assert file_digests(data_dir) == before


def test_generated_jwt_key_too_short_for_the_algorithm_stops_start_up_naming_both(data_dir: Path) -> None:
    _data_files(data_dir)
    key = data_dir / ".jwt_secret"
    key.write_bytes(b"k" * 50 + b"\n")  # enough for HS256, made before JWT_ALGORITHM changed
    before = file_digests(data_dir)

    result = run_cli(
        data_dir=data_dir, PORT=str(free_port()), timeout=30, JWT_SECRET=None, JWT_ALGORITHM="HS512"
    )

    _assert_refused(result.stderr, result.returncode, str(key), "shorter than 64 characters", "HS512")
    assert file_digests(data_dir) == before


@pytest.mark.parametrize("which", ["BDD", "BDD/historique"])
def test_data_path_that_is_a_file_stops_start_up_naming_it_and_no_file_changes(
    tmp_path: Path, data_dir: Path, which: str
) -> None:
    if which != "BDD":
        _data_files(data_dir)
        (data_dir / "historique").rename(tmp_path / "moved-away")
    not_a_folder = tmp_path / which
    not_a_folder.write_text("oops")
    before = file_digests(data_dir)

    result = run_cli(data_dir=data_dir, PORT=str(free_port()), timeout=30)

    _assert_refused(result.stderr, result.returncode, str(not_a_folder), "is a file, not a folder")
    assert file_digests(data_dir) == before


def test_second_server_on_the_same_folder_exits_naming_the_folder_and_no_file_changes(
    tmp_path: Path, data_dir: Path
) -> None:
    _data_files(data_dir)
    with running_server(data_dir, tmp_path / "first.log") as first:
        before = file_digests(data_dir)
        second = run_cli(data_dir=data_dir, PORT=str(free_port()), timeout=30)

        _assert_refused(second.stderr, second.returncode, str(data_dir), "already used", f"pid {first.pid}")
        assert file_digests(data_dir) == before
        assert httpx.get(f"{first.url}/", trust_env=False).status_code == 200  # the first one serves on
