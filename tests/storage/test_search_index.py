"""The search index seam on every backend: kept by the units that change data, never by abandoned ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from BackEnd.config import Settings
from BackEnd.records import UserRecord
from BackEnd.search_text import parse_query
from BackEnd.storage import Database, open_database
from tests.utils.records import add_users, chat, make_conversation, make_turn, make_user


@pytest.fixture
def alice(db: Database) -> UserRecord:
    user = make_user("alice@example.com")
    add_users(db, user)
    return user


def found(db: Database, user_id: str, query: str, **page: int) -> list[tuple[str | None, str]]:
    with db.unit_of_work(user_id, write=False) as unit:
        hits = unit.search.search(
            user_id, parse_query(query), limit=page.get("limit", 50), offset=page.get("offset", 0)
        )
    return [(hit.message_id, hit.text) for hit in hits.items]


def test_a_committed_turn_is_found_and_an_abandoned_one_never(db: Database, alice: UserRecord) -> None:
    thread = chat(db, alice["id"], "premier kiwi")
    assert [text for _, text in found(db, alice["id"], "kiwi")] == [
        "echo: premier kiwi",
        "premier kiwi",
        "premier kiwi",
    ]

    class Abandon(Exception):
        pass

    with pytest.raises(Abandon), db.unit_of_work(alice["id"]) as unit:
        unit.threads.append(alice["id"], thread["id"], make_turn(alice["id"], thread["id"], "kiwi perdu"))
        unit.search.search(alice["id"], parse_query("kiwi"), limit=10, offset=0)  # built with the staged turn
        raise Abandon
    assert all("perdu" not in text for _, text in found(db, alice["id"], "kiwi"))


def test_dated_copies_keep_times_and_are_searchable(db: Database, alice: UserRecord) -> None:
    conversation = {**make_conversation(alice["id"], "copie"), "created_at": "2020-01-01T00:00:00.000000Z"}
    conversation["updated_at"] = conversation["created_at"]
    messages = [
        {**message, "created_at": f"2020-01-0{n + 2}T00:00:00.000000Z"}
        for n, message in enumerate(make_turn(alice["id"], conversation["id"], "ancienne pomme"))
    ]
    with db.unit_of_work(alice["id"]) as unit:
        unit.threads.add(conversation)  # type: ignore[arg-type]
        unit.threads.insert_dated(alice["id"], conversation["id"], messages)  # type: ignore[arg-type]
    with db.unit_of_work(alice["id"], write=False) as unit:
        stored = unit.threads.get(alice["id"], conversation["id"])
        page = unit.threads.messages(alice["id"], conversation["id"], limit=10, offset=0)
    assert stored is not None and page is not None
    assert stored["created_at"] == "2020-01-01T00:00:00.000000Z"
    assert stored["updated_at"] == messages[-1]["created_at"]
    assert [message["created_at"] for message in page.items] == [
        message["created_at"] for message in messages
    ]
    assert [message_id for message_id, _ in found(db, alice["id"], "pomme")] == [
        messages[1]["id"],
        messages[0]["id"],
    ]


def test_each_change_keeps_the_index_in_step(db: Database, alice: UserRecord) -> None:
    bob = make_user("bob@example.com")
    add_users(db, bob)
    first = chat(db, alice["id"], "citron vert")
    second = chat(db, alice["id"], "citron jaune")
    chat(db, bob["id"], "citron de bob")
    assert len(found(db, alice["id"], "citron")) == 6  # two titles and four messages
    with db.unit_of_work(alice["id"]) as unit:
        unit.threads.rename(alice["id"], first["id"], "agrume")
    assert len(found(db, alice["id"], "citron")) == 5
    assert [text for _, text in found(db, alice["id"], "agrume")] == ["agrume"]
    with db.unit_of_work(alice["id"]) as unit:
        unit.threads.clear(alice["id"], first["id"])
    assert len(found(db, alice["id"], "citron")) == 3
    with db.unit_of_work(alice["id"]) as unit:
        unit.threads.delete(alice["id"], second["id"])
    assert found(db, alice["id"], "citron") == []
    assert len(found(db, bob["id"], "citron")) == 3
    with db.unit_of_work(bob["id"]) as unit:
        unit.accounts.delete(bob["id"])
    assert found(db, bob["id"], "citron") == []


def test_paging_and_order_are_newest_first(db: Database, alice: UserRecord) -> None:
    thread = chat(db, alice["id"], "mot 0")
    for number in range(1, 5):
        chat(db, alice["id"], f"mot {number}", thread["id"])
    everything = found(db, alice["id"], "mot", limit=100)
    assert [text for _, text in everything][:2] == ["echo: mot 4", "mot 4"]
    assert found(db, alice["id"], "mot", limit=3, offset=2) == everything[2:5]


def test_an_index_is_rebuilt_from_stored_data_after_a_restart(settings: Settings, tmp_path: Path) -> None:
    database = open_database(settings)
    user = make_user("carol@example.com")
    add_users(database, user)
    chat(database, user["id"], "persistant")
    database.close()
    reopened = open_database(settings)
    try:
        assert len(found(reopened, user["id"], "persistant")) == 3
    finally:
        reopened.close()
