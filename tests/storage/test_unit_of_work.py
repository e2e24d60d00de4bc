"""The unit of work on every backend: all its changes or none, seen by its own reads; no orphan appends."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from BackEnd.records import ConversationRecord, UserRecord
from BackEnd.storage import Database
from BackEnd.storage.base import UnitOfWork
from tests.utils.records import add_users, chat, make_conversation, make_turn, make_user, stored_state


class Injected(Exception):
    """The failure a test raises inside a unit of work."""


@dataclass
class Scene:
    """alice and bob; alice's two one-turn threads, `first` the older; carol and `fresh`, not stored yet."""

    alice: UserRecord
    bob: UserRecord
    first: ConversationRecord
    second: ConversationRecord
    carol: UserRecord
    fresh: ConversationRecord


@pytest.fixture
def scene(db: Database) -> Scene:
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    add_users(db, alice, bob)
    first = chat(db, alice["id"], "first")
    second = chat(db, alice["id"], "second")
    return Scene(alice, bob, first, second, make_user("carol@example.com"), make_conversation(alice["id"]))


@dataclass(frozen=True)
class Change:
    """A change made through a unit of work, and what a read shows once it is made."""

    owned: bool  # whether it touches alice's threads, so the unit names her as its owner
    make: Callable[[UnitOfWork, Scene], None]
    shows: Callable[[UnitOfWork, Scene], None]


def _add_thread_and_append(uow: UnitOfWork, scene: Scene) -> None:
    alice, fresh, first = scene.alice["id"], scene.fresh["id"], scene.first["id"]
    uow.threads.add(scene.fresh)
    assert uow.threads.append(alice, fresh, make_turn(alice, fresh, "new")) is not None
    assert uow.threads.append(alice, first, make_turn(alice, first, "more")) is not None


def _shows_thread_and_turns(uow: UnitOfWork, scene: Scene) -> None:
    alice, fresh, first = scene.alice["id"], scene.fresh["id"], scene.first["id"]
    listed = uow.threads.page(alice, limit=10, offset=0)
    assert [c["id"] for c in listed.items] == [first, fresh, scene.second["id"]]
    page = uow.threads.messages(alice, fresh, limit=10, offset=0)
    assert page is not None and [m["content"] for m in page.items] == ["new", "echo: new"]
    assert uow.threads.get(alice, fresh)["updated_at"] == page.items[-1]["created_at"]  # type: ignore[index]
    recent = uow.threads.recent(alice, first, 2)
    assert recent is not None and [m["content"] for m in recent.items] == ["more", "echo: more"]


def _shows_alice_gone(uow: UnitOfWork, scene: Scene) -> None:
    alice = scene.alice["id"]
    assert uow.accounts.get(alice) is None and uow.accounts.get_by_email("alice@example.com") is None
    assert uow.threads.page(alice, limit=10, offset=0).total == 0
    assert uow.threads.get(alice, scene.first["id"]) is None


def _shows_carol(uow: UnitOfWork, scene: Scene) -> None:
    assert uow.accounts.get_by_email("carol@example.com") == scene.carol == uow.accounts.all()[-1]


def _promote_alice(uow: UnitOfWork, scene: Scene) -> None:
    assert uow.accounts.set_role("alice@example.com", "admin") is not None


def _shows_alice_admin(uow: UnitOfWork, scene: Scene) -> None:
    assert uow.accounts.get(scene.alice["id"])["role"] == "admin"  # type: ignore[index]


def _rename_first(uow: UnitOfWork, scene: Scene) -> None:
    assert uow.threads.rename(scene.alice["id"], scene.first["id"], "renamed") is not None


def _shows_first_renamed(uow: UnitOfWork, scene: Scene) -> None:
    assert uow.threads.get(scene.alice["id"], scene.first["id"])["title"] == "renamed"  # type: ignore[index]


def _delete_first(uow: UnitOfWork, scene: Scene) -> None:
    assert uow.threads.delete(scene.alice["id"], scene.first["id"]) is True


def _shows_first_gone(uow: UnitOfWork, scene: Scene) -> None:
    assert uow.threads.messages(scene.alice["id"], scene.first["id"], limit=9, offset=0) is None
    assert uow.threads.page(scene.alice["id"], limit=9, offset=0).total == 1


def _delete_all(uow: UnitOfWork, scene: Scene) -> None:
    assert uow.threads.delete_all(scene.alice["id"]) == 2


def _shows_no_threads(uow: UnitOfWork, scene: Scene) -> None:
    assert uow.threads.page(scene.alice["id"], limit=9, offset=0).total == 0


def _clear_first(uow: UnitOfWork, scene: Scene) -> None:
    assert uow.threads.clear(scene.alice["id"], scene.first["id"]) is True


def _shows_first_empty(uow: UnitOfWork, scene: Scene) -> None:
    recent = uow.threads.recent(scene.alice["id"], scene.first["id"], 5)
    assert recent is not None and recent.items == [] and recent.total == 0
    assert uow.threads.get(scene.alice["id"], scene.first["id"]) is not None


def _delete_alice(uow: UnitOfWork, scene: Scene) -> None:
    assert uow.accounts.delete(scene.alice["id"]) is True


CHANGES: dict[str, Change] = {
    "add account": Change(False, lambda uow, scene: uow.accounts.add(scene.carol), _shows_carol),
    "set role": Change(False, _promote_alice, _shows_alice_admin),
    "delete account": Change(True, _delete_alice, _shows_alice_gone),
    "add thread and append": Change(True, _add_thread_and_append, _shows_thread_and_turns),
    "rename": Change(True, _rename_first, _shows_first_renamed),
    "delete thread": Change(True, _delete_first, _shows_first_gone),
    "delete all threads": Change(True, _delete_all, _shows_no_threads),
    "clear": Change(True, _clear_first, _shows_first_empty),
}


def _owner(change: Change, scene: Scene) -> str | None:
    return scene.alice["id"] if change.owned else None


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_a_unit_that_raises_after_its_changes_saw_them_and_stores_none_of_them(
    db: Database, scene: Scene, name: str
) -> None:
    change = CHANGES[name]
    before, dump = stored_state(db), db.export_dump()  # TinyDB: every file's bytes

    with pytest.raises(Injected), db.unit_of_work(_owner(change, scene)) as uow:
        change.make(uow, scene)
        change.shows(uow, scene)
        raise Injected

    assert stored_state(db) == before and db.export_dump() == dump
    # Nothing stays held: the same owner's next unit commits.
    assert chat(db, scene.alice["id"], "after", scene.first["id"])["updated_at"] > scene.second["updated_at"]


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_a_unit_that_ends_normally_keeps_its_changes(db: Database, scene: Scene, name: str) -> None:
    change = CHANGES[name]

    with db.unit_of_work(_owner(change, scene)) as uow:
        change.make(uow, scene)

    with db.unit_of_work(scene.alice["id"], write=False) as uow:
        change.shows(uow, scene)


def test_a_new_account_and_its_first_thread_commit_together_or_not_at_all(db: Database) -> None:
    carol, before = make_user("carol@example.com"), stored_state(db)
    thread = make_conversation(carol["id"], "hello")

    with pytest.raises(Injected), db.unit_of_work(carol["id"]) as uow:
        uow.accounts.add(carol)
        uow.threads.add(thread)
        assert uow.threads.append(carol["id"], thread["id"], make_turn(carol["id"], thread["id"], "hi"))
        raise Injected
    assert stored_state(db) == before

    with db.unit_of_work(carol["id"]) as uow:
        uow.accounts.add(carol)
        uow.threads.add(thread)
        uow.threads.append(carol["id"], thread["id"], make_turn(carol["id"], thread["id"], "hi"))
    dump = db.export_dump()
    assert [u["id"] for u in dump.users] == [carol["id"]]
    assert [c["id"] for c in dump.conversations] == [thread["id"]]
    assert [m["content"] for m in dump.messages] == ["hi", "echo: hi"]


def test_append_to_a_missing_deleted_or_foreign_thread_returns_none_and_stores_nothing(
    db: Database, scene: Scene
) -> None:
    alice, bob = scene.alice["id"], scene.bob["id"]
    gone = make_conversation(alice)
    with db.unit_of_work(alice) as uow:
        uow.threads.add(gone)
    with db.unit_of_work(alice) as uow:
        uow.threads.delete(alice, gone["id"])
    before, dump = stored_state(db), db.export_dump()  # TinyDB: not even an orphan file may appear

    with db.unit_of_work(alice) as uow:
        assert uow.threads.append(alice, gone["id"], make_turn(alice, gone["id"], "late")) is None
        assert uow.threads.append(alice, "conv_unknown", make_turn(alice, "conv_unknown", "x")) is None
    with db.unit_of_work(bob) as uow:
        first = scene.first["id"]
        assert uow.threads.append(bob, first, make_turn(bob, first, "intrusion")) is None
        assert uow.threads.append(bob, first, make_turn(alice, first, "posing as alice")) is None
    ghost = make_conversation("usr_deleted")
    with db.unit_of_work("usr_deleted") as uow:  # an account deleted meanwhile
        turn = make_turn("usr_deleted", ghost["id"], "x")
        assert uow.threads.append("usr_deleted", ghost["id"], turn) is None

    assert stored_state(db) == before and db.export_dump() == dump
