"""A damaged history file is found when its thread is first read: 503 for that thread, logged, never written."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.utils.api import Account, sign_up

pytestmark = pytest.mark.parametrize("backend", ["tinydb"])  # the data folder's own files


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]  # a crash of the disk, a copy cut short


def _garbled_last_line(data: bytes) -> bytes:
    cut = data.rindex(b'"content": "') + len(b'"content": ')
    return data[:cut] + b"#" + data[cut + 1 :]  # framing intact, the document no longer JSON


def _moved_last_message(data: bytes) -> bytes:
    start = data.rindex(b'"conversation_id": "conv_') + len(b'"conversation_id": "conv_')
    return data[:start] + b"0" * 32 + data[start + 32 :]  # still a message, of another thread


async def _thread(client: httpx.AsyncClient, account: Account, *texts: str) -> str:
    conversation_id = ""
    for text in texts:
        body = {"message": text} | ({"conversation_id": conversation_id} if conversation_id else {})
        reply = await client.post("/ai/chat", json=body, headers=account.headers)
        assert reply.status_code == 200, reply.text
        conversation_id = reply.json()["conversation_id"]
    return conversation_id


@pytest.mark.parametrize("damage", [_truncated, _garbled_last_line, _moved_last_message])
async def test_a_damaged_thread_answers_503_and_its_file_is_never_written(
    client: httpx.AsyncClient,
    app: FastAPI,
    data_dir: Path,
    alice: Account,
    caplog: pytest.LogCaptureFixture,
    damage: Callable[[bytes], bytes],
) -> None:
    damaged = await _thread(client, alice, "first", "second")
    healthy = await _thread(client, alice, "another thread")
    path = data_dir / "historique" / f"{damaged}.json"
    path.write_bytes(damage(path.read_bytes()))
    app.state.context.database.threads.forget(alice.id, [damaged])  # its cache is cold, as after a restart
    on_disk = path.read_bytes()
    caplog.set_level(logging.ERROR)

    last_page = await client.get(f"/history/{damaged}?limit=2&offset=2", headers=alice.headers)
    turn = await client.post(
        "/ai/chat", json={"message": "third", "conversation_id": damaged}, headers=alice.headers
    )
    again = await client.post("/ai/chat/regenerate", json={"conversation_id": damaged}, headers=alice.headers)
    first_page = await client.get(f"/history/{damaged}?limit=2", headers=alice.headers)

    assert [last_page.status_code, turn.status_code, again.status_code, first_page.status_code] == [503] * 4
    assert "damaged" in last_page.json()["detail"] and str(data_dir) not in last_page.text
    assert path.read_bytes() == on_disk  # refused, not repaired
    logged = [record for record in caplog.records if str(path) in record.getMessage()]
    assert len(logged) == 1, [record.getMessage() for record in caplog.records]  # once, naming the file
    other = await client.post(
        "/ai/chat", json={"message": "still works", "conversation_id": healthy}, headers=alice.headers
    )
    assert other.status_code == 200, other.text
    listed = await client.get(f"/history/{healthy}", headers=alice.headers)
    assert [m["content"] for m in listed.json()["items"]][-1] == "echo: still works"


async def test_the_owner_can_still_delete_a_damaged_thread(
    client: httpx.AsyncClient, app: FastAPI, data_dir: Path, alice: Account
) -> None:
    damaged = await _thread(client, alice, "first")
    path = data_dir / "historique" / f"{damaged}.json"
    path.write_bytes(_truncated(path.read_bytes()))
    app.state.context.database.threads.forget(alice.id, [damaged])
    assert (await client.get(f"/history/{damaged}", headers=alice.headers)).status_code == 503

    deleted = await client.delete(f"/conversations/{damaged}", headers=alice.headers)

    assert deleted.status_code == 204, deleted.text
    assert not path.exists()
    assert (await client.get(f"/history/{damaged}", headers=alice.headers)).status_code == 404


async def test_a_thread_of_another_user_in_a_file_is_refused(
    client: httpx.AsyncClient, app: FastAPI, data_dir: Path, alice: Account
) -> None:
    bob = await sign_up(client, "bob@example.com")
    theirs = await _thread(client, alice, "alice's")
    path = data_dir / "historique" / f"{theirs}.json"
    path.write_bytes(path.read_bytes().replace(alice.id.encode(), bob.id.encode()))  # same length
    app.state.context.database.threads.forget(alice.id, [theirs])

    assert (await client.get(f"/history/{theirs}", headers=alice.headers)).status_code == 503
