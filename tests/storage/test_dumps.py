"""Export and import on every backend: dump order, round trips through TinyDB, refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from BackEnd.errors import RestoreError
from BackEnd.storage import Database, TinyDBDatabase
from tests.utils.records import populate


@pytest.fixture
def other_tinydb(tmp_path: Path) -> Iterator[TinyDBDatabase]:
    """A second, empty TinyDB folder: the other end of a migration."""
    database = TinyDBDatabase.open(tmp_path / "other")
    yield database
    database.close()


def test_export_lists_each_thread_after_its_owner_with_its_messages_in_order(db: Database) -> None:
    populate(db)

    dump = db.export_dump()

    assert len(dump.users) == 2 and len(dump.conversations) == 3 and len(dump.messages) == 8
    owners = [u["id"] for u in dump.users]
    assert [c["user_id"] for c in dump.conversations] == sorted(
        (c["user_id"] for c in dump.conversations), key=owners.index
    )
    threads = [c["id"] for c in dump.conversations]
    assert [m["conversation_id"] for m in dump.messages] == sorted(
        (m["conversation_id"] for m in dump.messages), key=threads.index
    )
    assert [m["content"] for m in dump.messages[:4]] == [
        "bonjour",
        "echo: bonjour",
        "ça va ? ünïcödé",
        "echo: ça va ? ünïcödé",
    ]


def test_dump_round_trips_identically_through_this_backend_and_tinydb(
    db: Database, other_tinydb: TinyDBDatabase, tmp_path: Path
) -> None:
    populate(other_tinydb)
    original = other_tinydb.export_dump()

    db.import_dump(original)
    through_db = db.export_dump()
    back = TinyDBDatabase.open(tmp_path / "back")
    try:
        back.import_dump(through_db)
        assert through_db == original
        assert back.export_dump() == original
    finally:
        back.close()


def test_import_into_a_non_empty_database_raises_restore_error_and_changes_nothing(db: Database) -> None:
    populate(db)
    exported = db.export_dump()

    with pytest.raises(RestoreError, match="not empty"):
        db.import_dump(exported)
    assert db.export_dump() == exported
