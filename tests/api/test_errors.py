"""The one error mapping: storage failures become a 503 that leaks no path and keeps the data."""

from __future__ import annotations

import pytest

from BackEnd.storage import files, journal
from tests.utils.records import json_snapshot


@pytest.mark.parametrize("backend", ["tinydb"])  # tests/api/test_database_outage.py has the database's
async def test_disk_failure_during_a_write_is_a_503_without_paths_and_changes_nothing(
    client, alice, data_dir, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    created = await client.post("/conversations", json={"title": "kept"}, headers=alice.headers)
    before = (data_dir / "conversations" / f"{alice.id}.json").read_bytes()

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", disk_full)
    renamed = await client.patch(
        f"/conversations/{created.json()['id']}", json={"title": "lost"}, headers=alice.headers
    )
    monkeypatch.undo()

    assert renamed.status_code == 503
    assert "server log" in renamed.json()["detail"]
    assert str(data_dir) not in renamed.text and "No space" not in renamed.text
    assert "No space left on device" in caplog.text  # the administrator learns why
    assert (data_dir / "conversations" / f"{alice.id}.json").read_bytes() == before
    listed = await client.get(f"/conversations/{created.json()['id']}", headers=alice.headers)
    assert listed.json()["title"] == "kept"


async def test_validation_errors_are_422_with_field_locations(client) -> None:
    response = await client.post("/auth/register", json={"email": "not-an-email", "password": "long enough"})
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", "email"]]
    assert all("input" not in error for error in response.json()["detail"])


@pytest.mark.parametrize("backend", ["tinydb"])  # several files; SQL commits a turn in one transaction
@pytest.mark.parametrize("existing", [True, False], ids=["existing-thread", "new-thread"])
async def test_disk_full_at_a_turns_commit_point_refuses_it_and_leaves_the_conversations_as_they_were(
    client, alice, data_dir, monkeypatch: pytest.MonkeyPatch, existing: bool
) -> None:
    body: dict[str, str] = {"message": "first"}
    if existing:
        first = await client.post("/ai/chat", json=body, headers=alice.headers)
        body = {"message": "second", "conversation_id": first.json()["conversation_id"]}
    before = await _everything_alice_has(client, alice, data_dir)
    real_replace = files.os.replace

    # The commit point: a new thread (two files) commits with its journal's rename, a turn in an
    # existing thread (its file only: the summary is stored later, stamped) with that file's rename.
    commit_point = "historique" if existing else ".journal-"

    def disk_full_at_the_commit_point(source: str, target: str) -> None:
        if commit_point in str(target):  # everything is written; the commit fails
            raise OSError(28, "No space left on device")
        real_replace(source, target)

    monkeypatch.setattr(journal.os, "replace", disk_full_at_the_commit_point)
    failed = await client.post("/ai/chat", json=body, headers=alice.headers)
    monkeypatch.undo()

    assert failed.status_code == 503, failed.text
    assert await _everything_alice_has(client, alice, data_dir) == before  # a refused turn is not half-stored
    assert not list(data_dir.rglob("*.tmp")) and not list(data_dir.glob(".journal-*"))
    again = await client.post("/ai/chat", json=body, headers=alice.headers)
    assert again.status_code == 200
    assert await _everything_alice_has(client, alice, data_dir) != before


@pytest.mark.parametrize("backend", ["tinydb"])
async def test_disk_full_after_a_turns_commit_point_keeps_the_acknowledged_turn(
    client, alice, data_dir, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = journal.os.replace
    failing = True

    def conversation_list_disk_full(source: str, target: str) -> None:
        if failing and "conversations" in str(target):  # committed (the journal holds it), then this fails
            raise OSError(28, "No space left on device")
        real_replace(source, target)

    monkeypatch.setattr(journal.os, "replace", conversation_list_disk_full)
    answered = await client.post("/ai/chat", json={"message": "first"}, headers=alice.headers)  # a new thread
    blocked = await client.get("/conversations", headers=alice.headers)
    failing = False
    recovered = await client.get("/conversations", headers=alice.headers)

    assert answered.status_code == 200, answered.text  # acknowledged: on disk through the journal
    assert blocked.status_code == 503  # the disk still refuses to finish the commit
    conversation_id = answered.json()["conversation_id"]
    assert [c["id"] for c in recovered.json()["items"]] == [conversation_id]
    history = (await client.get(f"/history/{conversation_id}", headers=alice.headers)).json()
    assert [m["content"] for m in history["items"]] == ["first", "echo: first"]
    assert not list(data_dir.glob(".journal-*"))  # finished by the next request


async def _everything_alice_has(client, alice, data_dir) -> list[object]:
    """Her threads and their histories through the API, and the history files on disk."""
    threads = (await client.get("/conversations", headers=alice.headers)).json()["items"]
    histories = [(await client.get(f"/history/{t['id']}", headers=alice.headers)).json() for t in threads]
    return [threads, histories, json_snapshot(data_dir / "historique")]
