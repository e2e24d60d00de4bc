"""The storage module: one contract (`Database`), and the backend chosen by the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config import Settings
from ..errors import NotFoundError
from ..records import Role, UserRecord
from .base import (
    ALL_THREADS,
    IN_NO_FOLDER,
    Accounts,
    AccountTotals,
    Database,
    Dump,
    Page,
    Stats,
    ThreadQuery,
    Threads,
    UnitOfWork,
    UserStats,
)
from .tinydb_backend import TinyDBDatabase
from .users_file import UsersFile

if TYPE_CHECKING:
    from .sql import DatabaseTimeouts

__all__ = [
    "ALL_THREADS",
    "IN_NO_FOLDER",
    "AccountTotals",
    "Accounts",
    "Stats",
    "ThreadQuery",
    "UserStats",
    "Database",
    "Dump",
    "Page",
    "Threads",
    "TinyDBDatabase",
    "UnitOfWork",
    "change_role",
    "migrate_schema",
    "open_database",
]


def open_database(settings: Settings) -> Database:
    """Open the configured backend, ready to serve; raises StorageError with a clear message.

    With DATABASE_URL, the SQL backend (its schema migrated first); else the TinyDB folder.
    """
    if settings.database_url:
        from .sql import SQLDatabase  # SQLAlchemy is loaded only by those who use it

        return SQLDatabase.open(settings.database_url, _database_timeouts(settings))
    return TinyDBDatabase.open(settings.bdd_dir)


def migrate_schema(settings: Settings) -> str:
    """Bring the configured database's schema up to date; says what it did."""
    if not settings.database_url:
        return f"nothing to migrate: the TinyDB files in {settings.bdd_dir} have no schema (DATABASE_URL is unset)"
    from .sql import migrate_url

    return migrate_url(settings.database_url, _database_timeouts(settings))


def _database_timeouts(settings: Settings) -> DatabaseTimeouts:
    from .sql import DatabaseTimeouts

    return DatabaseTimeouts(
        statement_seconds=settings.database_statement_timeout_seconds,
        lock_seconds=settings.database_lock_timeout_seconds,
    )


def change_role(settings: Settings, email: str, role: Role) -> UserRecord | None:
    """Set an account's role from the command line, even while the server runs.

    With TinyDB this is the users.json hand edit done safely: it takes the same lock as the
    server's own writes to that file, and the server picks the change up on its next request.
    """
    if settings.database_url:
        database = open_database(settings)
        try:
            with database.unit_of_work() as unit:
                return unit.accounts.set_role(email, role)
        finally:
            database.close()
    users_path = settings.bdd_dir / "users.json"
    if not users_path.is_file():
        raise NotFoundError(f"there are no accounts yet: {users_path} does not exist")
    users = UsersFile(users_path)
    users.load()
    return users.set_role(email, role)
