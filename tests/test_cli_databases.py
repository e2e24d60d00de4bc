"""`python main.py` on every backend: migrate, promote/demote, dump/restore between backends, refusals."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from BackEnd.config import Settings
from BackEnd.storage import open_database
from BackEnd.storage.sql import head_revision
from tests.utils.api import make_settings
from tests.utils.records import add_users, get_user_by_email, make_user, populate
from tests.utils.server import free_port, run_cli


def _env(database_url: str | None) -> dict[str, str | None]:
    """DATABASE_URL for `run_cli`; None removes it (TinyDB)."""
    return {"DATABASE_URL": database_url}


def _records(dump_file: Path) -> dict[str, list]:  # type: ignore[type-arg]
    document = json.loads(dump_file.read_text(encoding="utf-8"))
    return {name: document[name] for name in ("users", "conversations", "messages")}


def test_promote_and_demote_work_on_every_backend(data_dir: Path, database_url: str | None) -> None:
    settings = make_settings(data_dir, database_url=database_url)
    database = open_database(settings)
    try:
        populate(database)
    finally:
        database.close()

    promoted = run_cli("promote", "Alice@Example.com", data_dir=data_dir, **_env(database_url))
    assert promoted.returncode == 0, promoted.stderr
    assert "alice@example.com is now admin" in promoted.stdout
    unknown = run_cli("demote", "nobody@example.com", data_dir=data_dir, **_env(database_url))
    assert unknown.returncode == 1 and "nobody@example.com" in unknown.stderr

    database = open_database(settings)
    try:
        assert get_user_by_email(database, "alice@example.com")["role"] == "admin"  # type: ignore[index]
        demoted = run_cli("demote", "alice@example.com", data_dir=data_dir, **_env(database_url))
        assert demoted.returncode == 0, demoted.stderr
        assert get_user_by_email(database, "alice@example.com")["role"] == "user"  # type: ignore[index]
        assert get_user_by_email(database, "bob@example.com")["role"] == "admin"  # type: ignore[index]
    finally:
        database.close()


def test_promote_finds_the_account_however_its_address_is_spelt(
    data_dir: Path, database_url: str | None
) -> None:
    database = open_database(make_settings(data_dir, database_url=database_url))
    try:
        add_users(database, make_user("élève@école.fr"))
    finally:
        database.close()

    promoted = run_cli("promote", "ÉLÈVE@xn--cole-9oa.FR", data_dir=data_dir, **_env(database_url))

    assert promoted.returncode == 0, promoted.stderr
    assert "élève@école.fr is now admin" in promoted.stdout


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_round_trip_tinydb_to_sql_to_tinydb_gives_the_same_dump(
    tmp_path: Path, data_dir: Path, database_url: str
) -> None:
    source, back = tmp_path / "source", tmp_path / "back"
    database = open_database(make_settings(source))
    try:
        populate(database)
    finally:
        database.close()
    dumps = [tmp_path / f"{step}.json" for step in ("tinydb", "sql", "tinydb-again")]

    steps = [
        run_cli("dump", str(dumps[0]), data_dir=source),
        run_cli("restore", str(dumps[0]), data_dir=data_dir, DATABASE_URL=database_url),
        run_cli("dump", str(dumps[1]), data_dir=data_dir, DATABASE_URL=database_url),
        run_cli("restore", str(dumps[1]), data_dir=back),
        run_cli("dump", str(dumps[2]), data_dir=back),
    ]

    for step in steps:
        assert step.returncode == 0, step.stderr
    original = _records(dumps[0])
    assert (len(original["users"]), len(original["conversations"]), len(original["messages"])) == (2, 3, 8)
    assert _records(dumps[1]) == original
    assert _records(dumps[2]) == original
    again = run_cli("restore", str(dumps[0]), data_dir=data_dir, DATABASE_URL=database_url)
    assert again.returncode == 1 and "not empty" in again.stderr


def test_migrate_creates_the_schema_once_and_then_has_nothing_to_do(tmp_path: Path, data_dir: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"

    first = run_cli("migrate", data_dir=data_dir, DATABASE_URL=url)
    second = run_cli("migrate", data_dir=data_dir, DATABASE_URL=url)

    assert first.returncode == 0, first.stderr
    assert "migrated" in first.stdout and "(empty)" in first.stdout
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout


def test_migrate_on_tinydb_says_there_is_nothing_to_do(data_dir: Path) -> None:
    result = run_cli("migrate", data_dir=data_dir)

    assert result.returncode == 0, result.stderr
    assert "nothing to migrate" in result.stdout


@pytest.mark.parametrize("command", [(), ("dump", "out.json"), ("promote", "ann@example.com"), ("migrate",)])
def test_unreachable_postgresql_exits_1_naming_the_host_but_never_the_password(
    data_dir: Path, command: tuple[str, ...]
) -> None:
    port = free_port()  # nobody listens there
    url = f"postgres://ann:s3cret-Pa55@127.0.0.1:{port}/assistantia"

    result = run_cli(*command, data_dir=data_dir, DATABASE_URL=url, timeout=30)

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"127.0.0.1:{port}" in result.stderr and "unavailable" in result.stderr
    assert "s3cret-Pa55" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("url", ["mysql://ann:s3cret-Pa55@db/x", "s3cret-Pa55", "sqlite://"])
def test_unsupported_database_url_is_refused_without_echoing_it(data_dir: Path, url: str) -> None:
    result = run_cli(data_dir=data_dir, DATABASE_URL=url, timeout=30)

    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr and "postgresql://" in result.stderr
    assert "s3cret-Pa55" not in result.stderr


def test_several_workers_on_tinydb_are_refused_with_a_clear_message(data_dir: Path) -> None:
    result = run_cli(data_dir=data_dir, WORKERS="2", timeout=30)

    assert result.returncode == 2
    assert "WORKERS=2 needs DATABASE_URL" in result.stderr


def test_restore_moves_a_threads_updated_at_up_to_its_last_message_on_every_backend(
    tmp_path: Path, data_dir: Path, database_url: str | None
) -> None:
    source = tmp_path / "source"
    database = open_database(make_settings(source))
    try:
        populate(database)
    finally:
        database.close()
    dump_file, again = tmp_path / "dump.json", tmp_path / "again.json"
    assert run_cli("dump", str(dump_file), data_dir=source).returncode == 0
    document = json.loads(dump_file.read_text(encoding="utf-8"))
    stale = document["conversations"][0]
    stale["updated_at"] = stale["created_at"]  # older than its messages, as a hand-made dump may be
    dump_file.write_text(json.dumps(document), encoding="utf-8")

    restored = run_cli("restore", str(dump_file), data_dir=data_dir, **_env(database_url))
    dumped = run_cli("dump", str(again), data_dir=data_dir, **_env(database_url))

    assert restored.returncode == 0 and dumped.returncode == 0, restored.stderr + dumped.stderr
    last = max(m["created_at"] for m in document["messages"] if m["conversation_id"] == stale["id"])
    conversations = {c["id"]: c for c in _records(again)["conversations"]}
    assert conversations[stale["id"]]["updated_at"] == last
    assert "1 conversation time(s)" in restored.stderr + dumped.stderr


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize("command", [(), ("migrate",)], ids=["serve", "migrate"])
def test_database_migrated_by_a_newer_version_exits_1_naming_both_revisions(
    data_dir: Path, database_url: str, command: tuple[str, ...]
) -> None:
    expected = head_revision()
    engine = create_engine(database_url)
    stamp = text("UPDATE alembic_version SET version_num = :revision")
    try:
        with engine.begin() as connection:
            connection.execute(stamp, {"revision": "9999_future"})

        result = run_cli(
            *command, data_dir=data_dir, DATABASE_URL=database_url, PORT=str(free_port()), timeout=30
        )

        assert result.returncode == 1, result.stdout + result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr  # no traceback
        assert "9999_future" in lines[0] and expected in lines[0], result.stderr
        with engine.connect() as connection:  # the newer schema is left alone
            assert (
                connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "9999_future"
            )
    finally:
        with engine.begin() as connection:  # the session's PostgreSQL database serves the next tests
            connection.execute(stamp, {"revision": expected})
        engine.dispose()


def test_sqlite_file_that_is_not_a_database_stops_start_up_naming_it_and_leaves_it_alone(
    tmp_path: Path, data_dir: Path
) -> None:
    path = tmp_path / "not-a-database.db"
    path.write_bytes(b"\x00\xffnot SQLite at all" * 400)

    result = run_cli(data_dir=data_dir, DATABASE_URL=f"sqlite:///{path}", PORT=str(free_port()), timeout=30)

    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr  # no traceback
    assert str(path) in lines[0] and "not a database" in lines[0], result.stderr
    assert path.read_bytes() == b"\x00\xffnot SQLite at all" * 400


@pytest.fixture(scope="module")
def good_dump(tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    """A valid dump document (two accounts, three threads, eight messages) made by `python main.py dump`."""
    folder = tmp_path_factory.mktemp("source")
    database = open_database(make_settings(folder / "BDD"))
    try:
        populate(database)
    finally:
        database.close()
    dump_file = folder / "dump.json"
    assert run_cli("dump", str(dump_file), data_dir=folder / "BDD").returncode == 0
    return json.loads(dump_file.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _set(document: dict, kind: str, index: int, **fields: object) -> dict:  # type: ignore[type-arg]
    document[kind][index].update(fields)
    return document


BAD_DUMPS = {
    "one email twice once normalised": (
        lambda d: _set(_set(d, "users", 0, email="Ann@X.fr"), "users", 1, email="ann@x.fr"),
        "users[1] has the email 'ann@x.fr' of users[0]",
    ),
    "NFD and punycode spellings": (
        lambda d: _set(
            _set(d, "users", 0, email="e\u0301le\u0300ve@e\u0301cole.fr"),
            "users",
            1,
            email="ÉLÈVE@xn--cole-9oa.fr",
        ),
        "users[1] has the email 'élève@école.fr' of users[0]",
    ),
    "lookalike email": (lambda d: _set(d, "users", 1, email="t\u0435acher@x.fr"), "users[1] has an email"),
    "email with an escape": (lambda d: _set(d, "users", 0, email="\x1b[2Jann@x.fr"), "users[0] has an email"),
    "user created_at not a time": (
        lambda d: _set(d, "users", 0, created_at="yesterday"),
        "users[0] has a malformed created_at",
    ),
    "conversation updated_at without microseconds": (
        lambda d: _set(d, "conversations", 2, updated_at="2026-01-01T00:00:00Z"),
        "conversations[2] has a malformed updated_at",
    ),
    "message created_at in month 13": (
        lambda d: _set(d, "messages", 3, created_at="2026-13-01T00:00:00.000000Z"),
        "messages[3] has a malformed created_at",
    ),
    "title with half a surrogate pair": (
        lambda d: _set(d, "conversations", 1, title="half \ud83d"),
        "conversations[1] has text that cannot be stored",
    ),
    "message with a NUL": (
        lambda d: _set(d, "messages", 0, content="nul \x00 here"),
        "messages[0] has text that cannot be stored",
    ),
}


@pytest.mark.parametrize("case", list(BAD_DUMPS))
def test_restore_checks_the_whole_dump_before_writing_anything_on_every_backend(
    tmp_path: Path,
    data_dir: Path,
    database_url: str | None,
    good_dump: dict,
    case: str,  # type: ignore[type-arg]
) -> None:
    spoil, expected = BAD_DUMPS[case]
    dump_file = tmp_path / "dump.json"
    dump_file.write_text(json.dumps(spoil(json.loads(json.dumps(good_dump)))), encoding="utf-8")

    result = run_cli("restore", str(dump_file), data_dir=data_dir, **_env(database_url))

    assert result.returncode == 1, result.stdout + result.stderr
    assert expected in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not data_dir.exists() or not any(data_dir.rglob("*.json"))
    database = open_database(make_settings(data_dir, database_url=database_url))  # it still starts
    try:
        assert database.export_dump().users == []
    finally:
        database.close()


def test_restore_stores_each_email_in_its_normalised_form_on_every_backend(
    tmp_path: Path,
    data_dir: Path,
    database_url: str | None,
    good_dump: dict,  # type: ignore[type-arg]
) -> None:
    dump_file = tmp_path / "dump.json"
    document = _set(json.loads(json.dumps(good_dump)), "users", 0, email=" ÉLÈVE@xn--cole-9oa.FR")
    dump_file.write_text(json.dumps(document), encoding="utf-8")

    result = run_cli("restore", str(dump_file), data_dir=data_dir, **_env(database_url))

    assert result.returncode == 0, result.stderr
    database = open_database(make_settings(data_dir, database_url=database_url))
    try:
        found = get_user_by_email(database, "élève@école.fr")
        assert found is not None and found["id"] == document["users"][0]["id"]
        assert sorted(user["email"] for user in database.export_dump().users) == [
            "bob@example.com",
            "élève@école.fr",
        ]
    finally:
        database.close()


def _database_at_first_revision(url: str, emails: list[str]) -> list[str]:
    """Build the 0001 schema at `url`, add accounts with these emails as stored; their ids."""
    from alembic import command
    from alembic.config import Config

    from BackEnd.storage.sql.migrate import MIGRATIONS

    engine = create_engine(Settings(_env_file=None, database_url=url).database_url)  # type: ignore[arg-type]
    try:
        with engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")
            users = [make_user(email) for email in emails]
            for user in users:
                connection.execute(
                    text(
                        "INSERT INTO users (id, email, name, role, password_hash, created_at) "
                        "VALUES (:id, :email, :name, :role, :password_hash, :created_at)"
                    ),
                    user,
                )
    finally:
        engine.dispose()
    return [user["id"] for user in users]


def _stored(url: str, query: str) -> list[tuple]:  # type: ignore[type-arg]
    engine = create_engine(Settings(_env_file=None, database_url=url).database_url)  # type: ignore[arg-type]
    try:
        with engine.connect() as connection:
            return sorted(tuple(row) for row in connection.execute(text(query)))
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrate_stores_every_existing_email_in_its_normalised_form(
    data_dir: Path, new_database_url: str
) -> None:
    ann, eleve = _database_at_first_revision(
        new_database_url, ["Ann@Example.COM", unicodedata.normalize("NFD", "Élève@xn--cole-9oa.fr")]
    )

    result = run_cli("migrate", data_dir=data_dir, DATABASE_URL=new_database_url)

    assert result.returncode == 0, result.stderr
    assert f"from revision 0001 to {head_revision()}" in result.stdout
    assert _stored(new_database_url, "SELECT id, email FROM users") == sorted(
        [(ann, "ann@example.com"), (eleve, "élève@école.fr")]
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrate_refuses_two_accounts_with_one_normalised_email_and_changes_nothing(
    data_dir: Path, new_database_url: str
) -> None:
    emails = ["Ann@x.fr", "ann@x.fr", "Bob@x.fr"]
    ids = _database_at_first_revision(new_database_url, emails)
    before = _stored(new_database_url, "SELECT id, email FROM users")

    result = run_cli("migrate", data_dir=data_dir, DATABASE_URL=new_database_url)
    server = run_cli(data_dir=data_dir, DATABASE_URL=new_database_url, PORT=str(free_port()), timeout=30)

    for refused in (result, server):
        assert refused.returncode == 1, refused.stdout + refused.stderr
        last = refused.stderr.strip().splitlines()[-1]  # after Alembic's "Running upgrade 0001 -> 0002"
        assert last.startswith("error: cannot migrate") and "Traceback" not in refused.stderr, refused.stderr
        assert "'ann@x.fr'" in last and ids[0] in last and ids[1] in last
    assert _stored(new_database_url, "SELECT id, email FROM users") == before
    assert _stored(new_database_url, "SELECT version_num FROM alembic_version") == [("0001",)]


@pytest.mark.parametrize("backend", ["tinydb", "sqlite"])
def test_restore_refuses_half_a_surrogate_pair_written_as_raw_bytes(
    tmp_path: Path,
    data_dir: Path,
    database_url: str | None,
    good_dump: dict,  # type: ignore[type-arg]
) -> None:
    # Python's JSON reader accepts UTF-8-encoded surrogates, which no UTF-8 writer can write back.
    text = json.dumps(good_dump, ensure_ascii=False).replace("second thread", "second \ud83d thread")
    dump_file = tmp_path / "dump.json"
    dump_file.write_bytes(text.encode("utf-8", "surrogatepass"))

    result = run_cli("restore", str(dump_file), data_dir=data_dir, **_env(database_url))

    assert result.returncode == 1, result.stdout + result.stderr
    assert "has text that cannot be stored in 'title'" in result.stderr, result.stderr
