"""Revision 0003 over a database of revision 0002 that holds data: nothing lost, new fields null."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, text

from BackEnd.completion import Usage
from BackEnd.config import Settings
from BackEnd.records import conversation_record, message_record
from BackEnd.storage.sql import SQLDatabase
from BackEnd.storage.sql.migrate import MIGRATIONS
from tests.utils.records import make_user


def _at_revision(
    url: str, revision: str, statement: str | None = None, rows: list[dict] | None = None
) -> None:
    engine = create_engine(Settings(_env_file=None, database_url=url).database_url)  # type: ignore[arg-type]
    try:
        with engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            if revision.startswith("-"):
                command.downgrade(config, revision[1:])
            else:
                command.upgrade(config, revision)
            for row in rows or []:
                connection.execute(text(statement or ""), row)
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0003_keeps_every_record_reads_old_answers_as_null_and_starts_an_empty_ledger(
    new_database_url: str,
) -> None:
    user = make_user("old@example.com")
    thread = conversation_record(user["id"], "old thread")
    answer = message_record(user["id"], thread["id"], "assistant", "an old answer")
    old_answer = {
        key: value for key, value in answer.items() if key not in ("model", "finish_reason", "usage")
    }
    _at_revision(
        new_database_url,
        "0002",
        "INSERT INTO users (id, email, name, role, password_hash, created_at) "
        "VALUES (:id, :email, :name, :role, :password_hash, :created_at)",
        [user],  # type: ignore[list-item]
    )
    _at_revision(
        new_database_url,
        "0002",
        "INSERT INTO conversations (id, user_id, title, created_at, updated_at) "
        "VALUES (:id, :user_id, :title, :created_at, :updated_at)",
        [thread],  # type: ignore[list-item]
    )
    _at_revision(
        new_database_url,
        "0002",
        "INSERT INTO messages (id, conversation_id, user_id, role, content, created_at) "
        "VALUES (:id, :conversation_id, :user_id, :role, :content, :created_at)",
        [old_answer],
    )

    database = SQLDatabase.open(new_database_url)  # migrates to the head
    try:
        dump = database.export_dump()
        assert dump.users == [{**user, "preferences": None}]
        assert dump.messages == [{**old_answer, "model": None, "finish_reason": None, "usage": None}]
        assert dump.usage == []
        with database.unit_of_work(user["id"]) as unit:
            assert unit.accounts.get(user["id"]) == user  # no preferences: the record as before
            unit.usage.record(user["id"], thread["id"], "2026-12-01", "a/one", Usage(1, 2, 3))
        assert len(database.export_dump().usage) == 1
    finally:
        database.close()

    _at_revision(new_database_url, "-0002")  # and back: the data of 0002 is all there
    engine = create_engine(Settings(_env_file=None, database_url=new_database_url).database_url)  # type: ignore[arg-type]
    try:
        assert "usage_days" not in inspect(engine).get_table_names()
        with engine.connect() as connection:
            assert connection.execute(text("SELECT content FROM messages")).scalars().all() == [
                "an old answer"
            ]
    finally:
        engine.dispose()
