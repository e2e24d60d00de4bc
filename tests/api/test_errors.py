"""The one error mapping: storage failures become a 503 that leaks no path and keeps the data."""

from __future__ import annotations

import pytest

from BackEnd.app import MAX_BODY_BYTES
from BackEnd.storage import files


@pytest.mark.parametrize("backend", ["tinydb"])  # tests/storage/test_sql_faults.py has the database's
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


async def test_oversized_body_is_refused_with_413_before_parsing(client, alice, upstream) -> None:
    body = b'{"message": "' + b"a" * (MAX_BODY_BYTES + 1) + b'"}'
    response = await client.post(
        "/ai/chat", content=body, headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["detail"]
    assert upstream.requests == []


async def test_oversized_body_without_declared_length_is_refused_with_413(client, alice, upstream) -> None:
    async def chunks():
        yield b'{"message": "'
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"a" * 65536
        yield b'"}'

    response = await client.post(
        "/ai/chat", content=chunks(), headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]
    assert upstream.requests == []
