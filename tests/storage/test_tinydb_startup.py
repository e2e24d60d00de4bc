"""Opening a TinyDB data data_dir: ownership, corrupt files, and finishing what a crash interrupted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from BackEnd.errors import DataFileCorrupt, DataFolderInUse, DataFolderInvalid
from BackEnd.storage import TinyDBDatabase
from tests.utils.records import (
    as_layout_1,
    json_snapshot,
    make_conversation,
    populate_folder,
)


def test_open_clears_temp_leftovers_but_keeps_files_no_record_refers_to(data_dir: Path) -> None:
    users = populate_folder(data_dir)
    leftovers = [data_dir / ".users.json.1.tmp", data_dir / "conversations" / ".x.json.1.tmp"]
    leftovers.append(data_dir / "historique" / ".x.json.123.tmp")
    for path in leftovers:
        path.write_bytes(b'{"half')
    orphan_history = data_dir / "historique" / "conv_orphan.json"
    orphan_history.write_text('{"messages": {}}')
    orphan_owner, their_thread = (
        data_dir / "conversations" / "usr_vanished.json",
        make_conversation("usr_vanished"),
    )
    orphan_owner.write_text(json.dumps({"conversations": {"1": their_thread}}))
    their_history = data_dir / "historique" / f"{their_thread['id']}.json"
    their_history.write_text(json.dumps({"messages": {}}))
    kept = json_snapshot(data_dir)

    database = TinyDBDatabase.open(data_dir)
    try:
        assert not any(path.exists() for path in leftovers)  # uncommitted temps: ours, provably
        # No journal says we meant to delete these: a hand edit or a lost record, so they stay.
        assert all(path.exists() for path in (orphan_history, orphan_owner, their_history))
        assert json_snapshot(data_dir) == kept
        with database.unit_of_work(write=False) as uow:
            assert uow.accounts.get(users["alice"]["id"]) == users["alice"]
    finally:
        database.close()


TABLES = {"users": "users", "conversations": "conversations", "history": "messages"}
CORRUPTIONS = {
    "invalid JSON": lambda good, table: b"{not json at all",
    "truncated JSON": lambda good, table: good[: len(good) // 2],
    "empty file": lambda good, table: b"",
    "wrong shape": lambda good, table: b'["not", "tables"]',
    "wrong record shape": lambda good, table: json.dumps(
        {table: {"1": {"id": 7, "unexpected": True}}}
    ).encode(),
}


@pytest.mark.parametrize("kind", ["users", "conversations", "history"])
@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_corrupt_data_file_refuses_to_open_names_the_file_and_leaves_it_untouched(
    data_dir: Path, kind: str, corruption: str
) -> None:
    conversations = data_dir / "conversations" / f"{populate_folder(data_dir)['bob']['id']}.json"
    (thread,) = json.loads(conversations.read_text())["conversations"].values()
    history = data_dir / "historique" / f"{thread['id']}.json"
    target = {"users": data_dir / "users.json", "conversations": conversations, "history": history}[kind]
    if kind == "history":  # only a conversion reads every history file (see test_tinydb_conversion.py)
        as_layout_1(data_dir)
    target.write_bytes(CORRUPTIONS[corruption](target.read_bytes(), TABLES[kind]))
    before = target.read_bytes()

    with pytest.raises(DataFileCorrupt) as raised:
        TinyDBDatabase.open(data_dir)

    assert target.name in str(raised.value)
    assert target.read_bytes() == before
    assert (data_dir / "layout.json").exists() == (kind != "history")  # a refused conversion wrote nothing
    with pytest.raises(DataFileCorrupt):  # a failed open released the folder
        TinyDBDatabase.open(data_dir)


def test_data_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "BDD"
    path.write_text("not a folder")
    with pytest.raises(DataFolderInvalid, match="BDD"):
        TinyDBDatabase.open(path)
    assert path.read_text() == "not a folder"


def test_second_open_of_a_folder_is_refused_until_the_first_is_closed(tinydb: TinyDBDatabase) -> None:
    with pytest.raises(DataFolderInUse, match="already used"):
        TinyDBDatabase.open(tinydb.folder)
    tinydb.close()
    TinyDBDatabase.open(tinydb.folder).close()
