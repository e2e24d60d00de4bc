"""Automatic titles' storage on every backend: compare-and-set titles, and a title call's usage kept."""

from __future__ import annotations

from pathlib import Path

from BackEnd.completion import Usage
from BackEnd.storage import Database, TinyDBDatabase
from tests.utils.records import add_users, chat, make_user


def test_retitle_sets_the_title_only_while_it_is_unchanged(db: Database) -> None:
    alice = make_user("alice@example.com")
    add_users(db, alice)
    thread = chat(db, alice["id"], "Explique la photosynthèse")
    with db.unit_of_work(alice["id"]) as unit:
        assert unit.threads.retitle(alice["id"], thread["id"], "Photosynthèse", if_title=thread["title"])
    with db.unit_of_work(alice["id"]) as unit:
        stored = unit.threads.get(alice["id"], thread["id"])
        assert stored is not None and stored["title"] == "Photosynthèse"
        assert stored["updated_at"] == thread["updated_at"]  # an automatic title is no activity
        unit.threads.rename(alice["id"], thread["id"], "Mon titre")
    with db.unit_of_work(alice["id"]) as unit:  # renamed meanwhile: the old title no longer matches
        assert not unit.threads.retitle(alice["id"], thread["id"], "Autre", if_title="Photosynthèse")
        assert not unit.threads.retitle(alice["id"], "conv_" + "0" * 32, "Autre", if_title="x")
        assert unit.threads.get(alice["id"], thread["id"])["title"] == "Mon titre"  # type: ignore[index]


def test_a_title_calls_usage_counts_and_survives_a_restart(db: Database, data_dir: Path) -> None:
    alice = make_user("alice@example.com")
    add_users(db, alice)
    with db.unit_of_work(alice["id"]) as unit:
        unit.usage.record_unstored(alice["id"], "2026-12-01", "t/titler", Usage(6, 1, 7, None))
    with db.unit_of_work(alice["id"]) as unit:
        (line,) = unit.usage.lines(alice["id"], "2026-12-01", "2026-12-01")
        assert (line["model"], line["total_tokens"], line["messages"]) == ("t/titler", 7, 0)
    if isinstance(db, TinyDBDatabase):  # no message carries it: the archive file must
        db.close()
        reopened = TinyDBDatabase.open(data_dir)
        try:
            with reopened.unit_of_work(alice["id"]) as unit:
                assert unit.usage.total_tokens([alice["id"]]) == {alice["id"]: 7}
        finally:
            reopened.close()
