"""SQL search entries come from what is stored: migration 0005 and a restore fill them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, insert

from BackEnd.config import Settings
from BackEnd.search_text import parse_query
from BackEnd.storage import Dump
from BackEnd.storage.sql import SQLDatabase
from BackEnd.storage.sql.migrate import MIGRATIONS
from tests.utils.records import make_conversation, make_turn, make_user

_COLUMNS_0002 = {
    "users": {"id", "email", "name", "role", "password_hash", "created_at"},
    "conversations": {"id", "user_id", "title", "created_at", "updated_at"},
    "messages": {"id", "conversation_id", "user_id", "role", "content", "created_at"},
}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrading_from_0002_indexes_existing_titles_and_messages(new_database_url: str) -> None:
    url = Settings(_env_file=None, database_url=new_database_url).database_url  # type: ignore[call-arg]
    assert url is not None
    user = make_user("ann@example.com")
    thread = make_conversation(user["id"], "Chimie")
    turn = make_turn(user["id"], thread["id"], "la molécule d'eau")
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, "0002")
            # Tables as revision 0002 has them: today's Table objects carry later columns.
            for name, rows in (("users", [user]), ("conversations", [thread]), ("messages", turn)):
                columns = [field for field in rows[0] if field in _COLUMNS_0002[name]]
                table = sa.table(name, *(sa.column(column) for column in columns))
                connection.execute(
                    insert(table), [{column: row[column] for column in columns} for row in rows]
                )
    finally:
        engine.dispose()

    database = SQLDatabase.open(url)  # upgrades to the head
    try:
        with database.unit_of_work(user["id"], write=False) as unit:
            hits = unit.search.search(user["id"], parse_query("MOLECULE"), limit=10, offset=0)
            titles = unit.search.search(user["id"], parse_query("chim"), limit=10, offset=0)
    finally:
        database.close()
    assert [hit.message_id for hit in hits.items] == [turn[1]["id"], turn[0]["id"]]
    assert [(hit.message_id, hit.text) for hit in titles.items] == [(None, "Chimie")]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_restored_dump_is_searchable(new_database_url: str) -> None:
    user = make_user("bea@example.com")
    thread = make_conversation(user["id"], "Histoire")
    turn = make_turn(user["id"], thread["id"], "la Révolution française")
    url = Settings(_env_file=None, database_url=new_database_url).database_url  # type: ignore[call-arg]
    assert url is not None
    database = SQLDatabase.open(url)
    try:
        database.import_dump(Dump(users=[user], conversations=[thread], messages=turn))
        with database.unit_of_work(user["id"], write=False) as unit:
            hits = unit.search.search(user["id"], parse_query('"revolution franc"'), limit=10, offset=0)
    finally:
        database.close()
    assert [hit.message_id for hit in hits.items] == [turn[1]["id"], turn[0]["id"]]
