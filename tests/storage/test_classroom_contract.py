"""The classroom storage (issue 12) on every backend: account fields, filters, credits, audit, events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from BackEnd.record_checks import with_defaults
from BackEnd.records import AuditRecord, utc_now
from BackEnd.storage import Database
from BackEnd.storage.dump import read_dump, write_dump
from tests.utils.records import add_users, make_user


def _event(action: str, detail: str = "") -> AuditRecord:
    return {
        "at": utc_now(),
        "actor_id": None,
        "actor_email": None,
        "action": action,
        "target_id": None,
        "target_email": None,
        "detail": detail,
    }


def test_new_fields_default_when_an_account_is_stored_without_them(db: Database) -> None:
    old_style = make_user("old@example.com")
    for field in ("is_active", "last_login_at", "credits", "token_generation"):
        del old_style[field]  # type: ignore[misc]
    add_users(db, old_style)
    with db.unit_of_work(write=False) as uow:
        found = uow.accounts.get(old_style["id"])
    assert found is not None
    assert (found["is_active"], found["last_login_at"], found["credits"], found["token_generation"]) == (
        True,
        None,
        None,
        0,
    )


def test_page_filters_by_text_and_activity_oldest_first(db: Database) -> None:
    users = [make_user(f"{name}@lycee.fr") for name in ("ann", "bob", "carl_x", "dan")]
    users[1]["is_active"] = False
    users[2]["name"] = "Carl 100%"
    add_users(db, *users)
    with db.unit_of_work(write=False) as uow:
        assert [u["id"] for u in uow.accounts.page(query="", active=None, limit=2, offset=1).items] == [
            users[1]["id"],
            users[2]["id"],
        ]
        assert uow.accounts.page(query="LYCEE", active=True, limit=10, offset=0).total == 3
        assert [u["id"] for u in uow.accounts.page(query="", active=False, limit=10, offset=0).items] == [
            users[1]["id"]
        ]
        for literal in ("100%", "l_x"):  # LIKE's wildcards match only themselves
            assert [
                u["id"] for u in uow.accounts.page(query=literal, active=None, limit=9, offset=0).items
            ] == [users[2]["id"]]
        assert uow.accounts.page(query="%", active=None, limit=9, offset=0).total == 1


def test_update_and_spend_credits(db: Database) -> None:
    limited, unlimited = make_user("ann@example.com"), make_user("bob@example.com")
    limited["credits"] = 100
    add_users(db, limited, unlimited)
    with db.unit_of_work() as uow:
        uow.accounts.spend_credits(limited["id"], 30)
        uow.accounts.spend_credits(limited["id"], 80)
        uow.accounts.spend_credits(unlimited["id"], 80)
        updated = uow.accounts.update(unlimited["id"], {"is_active": False, "token_generation": 3})
    assert updated is not None and updated["is_active"] is False
    with db.unit_of_work(write=False) as uow:
        assert uow.accounts.get(limited["id"])["credits"] == -10  # type: ignore[index]
        stored = uow.accounts.get(unlimited["id"])
        assert stored is not None
        assert (stored["credits"], stored["is_active"], stored["token_generation"]) == (None, False, 3)
        assert uow.accounts.update("usr_" + "0" * 32, {"credits": 1}) is None


def test_spending_is_undone_with_its_unit(db: Database) -> None:
    limited = make_user("ann@example.com")
    limited["credits"] = 100
    add_users(db, limited)
    with pytest.raises(RuntimeError), db.unit_of_work(limited["id"]) as uow:
        uow.accounts.spend_credits(limited["id"], 30)
        uow.audit.append(_event("credits"))
        raise RuntimeError("the turn failed")
    with db.unit_of_work(write=False) as uow:
        assert uow.accounts.get(limited["id"])["credits"] == 100  # type: ignore[index]
        assert uow.audit.page(limit=10, offset=0).total == 0


def test_audit_pages_newest_first(db: Database) -> None:
    with db.unit_of_work() as uow:
        for n in range(5):
            uow.audit.append(_event("import", f"#{n}"))
        assert uow.audit.page(limit=2, offset=0).items[0]["detail"] == "#4"  # sees its own
    with db.unit_of_work(write=False) as uow:
        page = uow.audit.page(limit=2, offset=1)
    assert [event["detail"] for event in page.items] == ["#3", "#2"]
    assert page.total == 5


def test_recent_events_take_add_and_clear(db: Database) -> None:
    with db.unit_of_work() as uow:
        events = uow.events
        assert events.take("k", now=1000.0, window=60, limit=2, record=True) is None
        assert events.take("k", now=1010.0, window=60, limit=2, record=True) is None
        assert events.take("k", now=1020.0, window=60, limit=2, record=True) == pytest.approx(40)
        assert events.take("k", now=1061.0, window=60, limit=2, record=False) is None  # the first expired
        assert events.take("other", now=1020.0, window=60, limit=2, record=False) is None
        events.add("login", now=1000.0)
        assert events.take("login", now=1001.0, window=900, limit=1, record=False) == pytest.approx(899)
        events.clear("login")
        assert events.take("login", now=1001.0, window=900, limit=1, record=False) is None


def test_a_version_1_dump_restores_with_the_defaults(db: Database, tmp_path: Path) -> None:
    user = make_user("old@example.com")
    legacy = {
        field: value
        for field, value in user.items()
        if field not in ("is_active", "last_login_at", "credits", "token_generation")
    }
    path = tmp_path / "v1.json"
    document = {
        "format": "assistantia-dump",
        "version": 1,
        "users": [legacy],
        "conversations": [],
        "messages": [],
    }
    path.write_text(json.dumps(document), encoding="utf-8")

    db.import_dump(read_dump(path))

    dump = db.export_dump()
    assert dump.users == [with_defaults("user", dict(user))]  # fields of other versions read back null
    assert dump.audit == []
    write_dump(tmp_path / "v2.json", dump)
    assert json.loads((tmp_path / "v2.json").read_text(encoding="utf-8"))["version"] == 3


def test_tinydb_keeps_spent_credits_in_the_accounts_own_file(data_dir: Path) -> None:
    from BackEnd.storage import TinyDBDatabase

    limited = make_user("ann@example.com")
    limited["credits"] = 100
    database = TinyDBDatabase.open(data_dir)
    try:
        add_users(database, limited)
        users_json = (data_dir / "users.json").read_bytes()
        with database.unit_of_work(limited["id"]) as uow:
            uow.accounts.spend_credits(limited["id"], 30)
        assert (data_dir / "users.json").read_bytes() == users_json  # a turn never rewrites it
        assert (data_dir / "credits" / f"{limited['id']}.json").is_file()
    finally:
        database.close()

    database = TinyDBDatabase.open(data_dir)  # a restart reads what was spent
    try:
        with database.unit_of_work(write=False) as uow:
            assert uow.accounts.get(limited["id"])["credits"] == 70  # type: ignore[index]
        with database.unit_of_work(limited["id"]) as uow:
            uow.accounts.update(limited["id"], {"credits": 500})  # set anew: nothing spent since
        with database.unit_of_work(write=False) as uow:
            assert uow.accounts.get(limited["id"])["credits"] == 500  # type: ignore[index]
        assert database.export_dump().users[0]["credits"] == 500
        with database.unit_of_work(limited["id"]) as uow:
            uow.accounts.spend_credits(limited["id"], 1)
            uow.accounts.delete(limited["id"])
        assert not (data_dir / "credits" / f"{limited['id']}.json").exists()
    finally:
        database.close()
