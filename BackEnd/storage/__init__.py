"""The storage module: one contract (`Database`), and the backend chosen by the settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..config import Settings
from ..errors import NotFoundError
from ..records import AuditRecord, Role, UserRecord
from .base import (
    ALL_THREADS,
    IN_NO_FOLDER,
    Accounts,
    AccountTotals,
    AuditTrail,
    Database,
    Dump,
    Page,
    RecentEvents,
    Stats,
    ThreadQuery,
    Threads,
    UnitOfWork,
    UserStats,
)
from .tinydb_backend import TinyDBDatabase, accounts_unit

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
    "AuditTrail",
    "Database",
    "Dump",
    "Page",
    "RecentEvents",
    "Threads",
    "TinyDBDatabase",
    "UnitOfWork",
    "change_role",
    "command_line_unit",
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


@contextmanager
def command_line_unit(settings: Settings) -> Iterator[UnitOfWork]:
    """A unit of work over the accounts and the audit trail for a command, even while the server runs.

    With TinyDB this is the users.json hand edit done safely: it takes the same lock as the
    server's own writes to that file, and the server picks the change up on its next request.
    Its `threads` are only usable on SQL.
    """
    if settings.database_url:
        database = open_database(settings)
        try:
            with database.unit_of_work() as unit:
                yield unit
        finally:
            database.close()
        return
    users_path = settings.bdd_dir / "users.json"
    if not users_path.is_file():
        raise NotFoundError(f"there are no accounts yet: {users_path} does not exist")
    with accounts_unit(settings.bdd_dir) as unit:
        yield unit


def change_role(
    settings: Settings, email: str, role: Role, event: AuditRecord | None = None
) -> UserRecord | None:
    """Set an account's role from the command line, even while the server runs; `event` joins the audit."""
    with command_line_unit(settings) as unit:
        user = unit.accounts.set_role(email, role)
        if user is not None and event is not None:
            unit.audit.append({**event, "target_id": user["id"], "target_email": user["email"]})
        return user
