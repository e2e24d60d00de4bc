"""Bring the schema up to date with Alembic, safely when several servers start at once."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from .engine import database_location, is_postgresql, open_engine, transaction

__all__ = ["head_revision", "migrate_url", "upgrade"]

MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant shared by every AssistantIA process: the key of the "migrating" advisory lock.
_ADVISORY_LOCK_KEY = 0x417353_1A


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@cache
def head_revision() -> str:
    """The newest migration shipped with this code."""
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
        current = MigrationContext.configure(connection).get_current_revision()
        if current == head_revision():
            return current
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
    where, head = database_location(url), head_revision()
    if before == head:
        return f"the database at {where} is up to date (revision {head})"
    return f"migrated the database at {where} from revision {before or '(empty)'} to {head}"
