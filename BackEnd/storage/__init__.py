"""The storage module: one contract (`Database`), and the backend chosen by the settings."""

from __future__ import annotations

from ..config import Settings
from ..errors import NotFoundError
from ..records import Role, UserRecord
from .base import Database, Dump, Page
from .tinydb_backend import TinyDBDatabase
from .users_file import UsersFile

__all__ = ["Database", "Dump", "Page", "TinyDBDatabase", "change_role", "open_database"]


def open_database(settings: Settings) -> Database:
    """Open the configured backend, ready to serve; raises StorageError with a clear message."""
    return TinyDBDatabase.open(settings.bdd_dir)


def change_role(settings: Settings, email: str, role: Role) -> UserRecord | None:
    """Set an account's role from the command line, even while the server runs.

    This is the users.json hand edit done safely: it takes the same lock as the server's
    own writes to that file, and the server picks the change up on its next request.
    """
    users_path = settings.bdd_dir / "users.json"
    if not users_path.is_file():
        raise NotFoundError(f"there are no accounts yet: {users_path} does not exist")
    users = UsersFile(users_path)
    users.load()
    return users.set_role(email, role)
