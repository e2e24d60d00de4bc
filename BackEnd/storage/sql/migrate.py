"""Bring the schema up to date with Alembic, safely when several servers start at once."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from .engine import database_location, is_postgresql, open_engine, transaction

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["SCHEMA_REVISION", "head_revision", "migrate_url", "upgrade"]

# The newest revision under migrations/versions (a test checks they agree): a server whose
# database is already there starts without loading Alembic at all.
SCHEMA_REVISION = "0002"

MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant shared by every AssistantIA process: the key of the "migrating" advisory lock.
_ADVISORY_LOCK_KEY = 0x417353_1A


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest migration shipped with this code, as Alembic reads it from migrations/."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "no migration under " + str(MIGRATIONS)
    return head


def upgrade(engine: Engine) -> str | None:
    """Apply the missing migrations in one transaction; returns the revision it started from.

    Returns the head itself when nothing was needed. Concurrent callers queue on a lock
    (PostgreSQL's advisory lock, SQLite's write lock) and find the work done.
    """
    with transaction(engine) as connection:
        if is_postgresql(engine):
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
        current = _current_revision(connection)
        if current == SCHEMA_REVISION:
            return current
        # Alembic announces each plugin it loads (on import); only the migration steps interest the log.
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
        from alembic import command

        config = _config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        return current


def migrate_url(url: str) -> str:
    """Upgrade the database at `url`; a sentence for the administrator."""
    engine = open_engine(url)
    try:
        before = upgrade(engine)
    finally:
        engine.dispose()
    where, head = database_location(url), SCHEMA_REVISION
    if before == head:
        return f"the database at {where} is up to date (revision {head})"
    return f"migrated the database at {where} from revision {before or '(empty)'} to {head}"


def _current_revision(connection: Connection) -> str | None:
    """The revision the database is at (Alembic's own table), None when it has no schema yet."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    revision: str | None = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return revision
