"""`python main.py users import|list` and the audit of CLI promotions, on every backend and beside a server."""

from __future__ import annotations

import csv
import stat
from pathlib import Path

import httpx

from BackEnd.storage import open_database
from tests.utils.api import make_settings
from tests.utils.records import populate, populate_folder
from tests.utils.server import run_cli, running_server

CLASS_LIST = '\ufeffemail,name,password\r\nann@lycee.fr,Ann,given password\r\nbob@lycee.fr,"Martin, Bob",\r\nbad,Bad,\r\n'


def _audit(database_url: str | None, data_dir: Path) -> list[tuple[str, str | None, str | None]]:
    database = open_database(make_settings(data_dir, database_url=database_url))
    try:
        with database.unit_of_work(write=False) as uow:
            items = uow.audit.page(limit=100, offset=0).items
    finally:
        database.close()
    return [(item["action"], item["actor_id"], item["target_email"]) for item in items]


def test_import_list_and_promotions_on_every_backend_are_audited(
    tmp_path: Path, data_dir: Path, database_url: str | None
) -> None:
    database = open_database(make_settings(data_dir, database_url=database_url))
    try:
        populate(database)
    finally:
        database.close()
    env = {"DATABASE_URL": database_url}
    class_file, out = tmp_path / "class.csv", tmp_path / "passwords.csv"
    class_file.write_bytes(CLASS_LIST.encode("utf-8"))

    imported = run_cli("users", "import", str(class_file), "--out", str(out), data_dir=data_dir, **env)

    assert imported.returncode == 0, imported.stderr
    assert "skipped line 4 (bad)" in imported.stderr and "created 2 account(s), skipped 1" in imported.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
    assert [(row["email"], row["name"]) for row in rows] == [
        ("ann@lycee.fr", "Ann"),
        ("bob@lycee.fr", "Martin, Bob"),
    ]
    assert rows[0]["password"] == "(as given in the file)" and len(rows[1]["password"]) >= 20
    assert run_cli("promote", "ann@lycee.fr", data_dir=data_dir, **env).returncode == 0

    listed = run_cli("users", "list", data_dir=data_dir, **env)
    assert listed.returncode == 0, listed.stderr
    table = {row["email"]: row for row in csv.DictReader(listed.stdout.splitlines())}
    assert set(table) == {"alice@example.com", "bob@example.com", "ann@lycee.fr", "bob@lycee.fr"}
    assert (table["ann@lycee.fr"]["role"], table["ann@lycee.fr"]["active"]) == ("admin", "yes")
    assert table["alice@example.com"]["credits"] == "1234" and table["bob@lycee.fr"]["credits"] == "unlimited"
    assert "password" not in listed.stdout and "$2b$" not in listed.stdout

    assert _audit(database_url, data_dir)[:3] == [
        ("promote", None, "ann@lycee.fr"),
        ("import", None, "bob@lycee.fr"),
        ("import", None, "ann@lycee.fr"),
    ]


def test_import_while_the_tinydb_server_runs_is_seen_at_once(tmp_path: Path, data_dir: Path) -> None:
    populate_folder(data_dir)
    class_file = tmp_path / "class.csv"
    class_file.write_text("email,name\ncarl@lycee.fr,Carl\n", encoding="utf-8")
    with running_server(data_dir, tmp_path / "server.log") as server:
        imported = run_cli("users", "import", str(class_file), data_dir=data_dir)
        assert imported.returncode == 0, imported.stderr
        password = list(csv.DictReader(imported.stdout.splitlines()))[0]["password"]
        login = httpx.post(
            f"{server.url}/auth/login", json={"email": "carl@lycee.fr", "password": password}, trust_env=False
        )
        assert login.status_code == 200, login.text
        # The server's own write afterwards keeps the imported account and its audit event.
        created = httpx.post(
            f"{server.url}/auth/register",
            json={"email": "dan@lycee.fr", "password": "long enough"},
            trust_env=False,
        )
        assert created.status_code == 201
    assert ("import", None, "carl@lycee.fr") in _audit(None, data_dir)


def test_import_of_a_file_that_is_not_csv_exits_1(tmp_path: Path, data_dir: Path) -> None:
    populate_folder(data_dir)
    class_file = tmp_path / "class.csv"
    class_file.write_bytes(b"name\nAnn\n")
    result = run_cli("users", "import", str(class_file), data_dir=data_dir)
    assert result.returncode == 1 and "email" in result.stderr
    missing = run_cli("users", "import", str(tmp_path / "nope.csv"), data_dir=data_dir)
    assert missing.returncode == 1 and "cannot read" in missing.stderr
