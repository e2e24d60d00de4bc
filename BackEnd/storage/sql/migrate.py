"""Bring the schema up to date with Alembic, safely when several servers start at once."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from ...errors import DatabaseSchemaUnknown
from .engine import (
    DEFAULT_TIMEOUTS,
    DatabaseTimeouts,
    database_location,
    is_postgresql,
    open_engine,
    transaction,
)

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

__all__ = ["SCHEMA_REVISION", "head_revision", "migrate_url", "upgrade"]

# The newest revision under migrations/versions (a test checks they agree): a server whose
# database is already there starts without loading Alembic at all.
SCHEMA_REVISION = "0007"

MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant shared by every AssistantIA process: the key of the "migrating" advisory lock.
_ADVISORY_LOCK_KEY = 0x417353_1A
# Alembic announces each plugin it loads, whichever of its modules is imported first; only the
# migration steps interest the log.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def head_revision() -> str:
    """The newest migration shipped with this code, as Alembic reads it from migrations/."""
    head = _scripts().get_current_head()
    assert head is not None, "no migration under " + str(MIGRATIONS)
    return head


def upgrade(engine: Engine) -> str | None:
    """Apply the missing migrations in one transaction; returns the revision it started from.

    Returns the head itself when nothing was needed. Concurrent callers queue on a lock
    (PostgreSQL's advisory lock, SQLite's write lock) and find the work done. A revision this
    code does not know (a newer version migrated the database) raises DatabaseSchemaUnknown.
    """
    with transaction(engine) as connection:
        if is_postgresql(engine):
            # A migration must not be cut short by the request timeouts, nor a server starting
            # while another migrates give up: this transaction waits as long as it takes.
            connection.execute(text("SET LOCAL statement_timeout = 0"))
            connection.execute(text("SET LOCAL lock_timeout = 0"))
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
        current = _current_revision(connection)
        if current == SCHEMA_REVISION:
            return current
        _refuse_unknown(engine, current)
        # Alembic announces each plugin it loads (on import); only the migration steps interest the log.
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
        from alembic import command

        config = _config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        return current


def migrate_url(url: str, timeouts: DatabaseTimeouts = DEFAULT_TIMEOUTS) -> str:
    """Upgrade the database at `url`; a sentence for the administrator."""
    engine = open_engine(url, timeouts)
    try:
        before = upgrade(engine)
    finally:
        engine.dispose()
    where, head = database_location(url), SCHEMA_REVISION
    if before == head:
        return f"the database at {where} is up to date (revision {head})"
    return f"migrated the database at {where} from revision {before or '(empty)'} to {head}"


def _refuse_unknown(engine: Engine, current: str | None) -> None:
    """Stop before Alembic when the database is at a revision missing from migrations/."""
    if current is None:
        return
    scripts = _scripts()
    if current in {script.revision for script in scripts.walk_revisions()}:
        return
    raise DatabaseSchemaUnknown(
        f"the database at {database_location(engine.url)} has schema revision {current!r}, but this "
        f"version expects {scripts.get_current_head()!r} and does not know that one: a newer AssistantIA "
        "migrated it; run that version, or restore a dump into an empty database"
    )


def _current_revision(connection: Connection) -> str | None:
    """The revision the database is at (Alembic's own table), None when it has no schema yet."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    revision: str | None = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return revision
