"""reply_to and edited_at (issue 10) in dumps on every backend: version 3 carries them, 2 restores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from BackEnd.errors import RestoreError
from BackEnd.records import message_record, utc_now
from BackEnd.storage import Database
from BackEnd.storage.dump import DUMP_VERSION, read_dump, write_dump
from tests.utils.records import add_users, make_conversation, make_user


def test_a_dump_carries_reply_to_and_edited_at(db: Database, tmp_path: Path) -> None:
    alice = make_user("alice@example.com")
    add_users(db, alice)
    thread = make_conversation(alice["id"])
    question = message_record(alice["id"], thread["id"], "user", "q")
    answer = message_record(alice["id"], thread["id"], "assistant", "a", reply_to=question["id"])
    answer["edited_at"] = utc_now()
    with db.unit_of_work(alice["id"]) as unit:
        unit.threads.add(thread)
        unit.threads.append(alice["id"], thread["id"], [question, answer])
    path = tmp_path / "dump.json"
    write_dump(path, db.export_dump())

    messages = read_dump(path).messages

    assert json.loads(path.read_text())["version"] == DUMP_VERSION == 3
    assert [(m["reply_to"], m["edited_at"]) for m in messages] == [
        (None, None),
        (question["id"], answer["edited_at"]),
    ]


def test_a_version_2_dump_restores_with_null_reply_to_and_edited_at(db: Database, tmp_path: Path) -> None:
    alice = make_user("alice@example.com")
    thread = make_conversation(alice["id"])
    old = [
        {
            k: v
            for k, v in message_record(alice["id"], thread["id"], role, text).items()
            if k not in ("reply_to", "edited_at")
        }
        for role, text in (("user", "q"), ("assistant", "a"))
    ]
    document = {
        "format": "assistantia-dump",
        "version": 2,
        "users": [alice],
        "conversations": [thread],
        "messages": old,
        "usage": [],
        "audit": [],
    }
    path = tmp_path / "v2.json"
    path.write_text(json.dumps(document))

    db.import_dump(read_dump(path))

    restored = db.export_dump().messages
    assert [m["id"] for m in restored] == [m["id"] for m in old]
    assert all(m["reply_to"] is None and m["edited_at"] is None for m in restored)


def test_a_malformed_reply_to_is_refused(tmp_path: Path) -> None:
    alice = make_user("alice@example.com")
    thread = make_conversation(alice["id"])
    bad = {**message_record(alice["id"], thread["id"], "assistant", "a"), "reply_to": "../etc"}
    document = {
        "format": "assistantia-dump",
        "version": 3,
        "users": [alice],
        "conversations": [thread],
        "messages": [bad],
    }
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))

    with pytest.raises(RestoreError, match="reply_to"):
        read_dump(path)
