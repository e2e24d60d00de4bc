"""users.json: hand-editable, re-read when edited, and never overwritten over an edit."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from tinydb import Query, TinyDB
from tinydb.table import Table

from ..emails import email_key
from ..errors import DataFileCorrupt, EmailAlreadyRegistered, StorageUnavailable
from ..records import Role, UserRecord, record_problem
from .files import FileLock
from .tinydb_storage import DurableJSONStorage

__all__ = ["UsersFile"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_TABLE = "users"


def _check_user(path: Path, key: str, doc: dict[str, Any]) -> None:
    problem = record_problem("user", doc)
    if problem is not None:
        raise DataFileCorrupt(path, f"user #{key} {problem}")


class UsersFile:
    """The accounts, kept in `users.json` as one TinyDB table, indexed by id and email.

    People promote admins by editing this file while the server runs, so every access
    first checks whether the file changed on disk, and every write re-reads it under an
    inter-process lock (shared with `python main.py promote`) before changing it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mutex = threading.RLock()
        self._write_lock = FileLock(path.with_name(".users.lock"))
        self._table: Table | None = None
        self._storage: DurableJSONStorage | None = None
        self._by_id: dict[str, UserRecord] = {}
        self._by_email: dict[str, UserRecord] = {}
        self._broken_edit: DataFileCorrupt | None = None

    def load(self) -> None:
        """Read and check the file; DataFileCorrupt (naming it) if it cannot be used."""
        with self._mutex:
            self._reload()

    def _reload(self) -> None:
        db = TinyDB(str(self.path), storage=DurableJSONStorage, indent=2)
        storage: DurableJSONStorage = db.storage  # type: ignore[assignment]
        self._index(storage.read())
        self._storage, self._table = storage, db.table(_TABLE)
        self._broken_edit = None

    def _index(self, tables: dict[str, Any] | None) -> None:
        """Check every account and swap in new indexes (whole, so lock-free readers stay safe)."""
        by_id: dict[str, UserRecord] = {}
        by_email: dict[str, UserRecord] = {}
        for key, doc in (tables or {}).get(_TABLE, {}).items():
            _check_user(self.path, key, doc)
            record: UserRecord = dict(doc)  # type: ignore[assignment]
            email = email_key(record["email"])  # a hand edit may spell it another way
            if record["id"] in by_id or email in by_email:
                raise DataFileCorrupt(self.path, f"user #{key} repeats an id or an email")
            by_id[record["id"]] = record
            by_email[email] = record
        self._by_id, self._by_email = by_id, by_email

    def _refresh(self) -> None:
        if self._storage is not None and not self._storage.changed_on_disk():
            return
        try:
            self._reload()
        except DataFileCorrupt as exc:
            # Keep serving the last good copy; refusing writes protects the person's edit.
            if self._broken_edit is None or str(self._broken_edit) != str(exc):
                logger.error("%s; still using the last valid copy until it is fixed", exc)
            self._broken_edit = exc
            if self._storage is None:
                raise

    @contextmanager
    def _writing(self) -> Iterator[Table]:
        with self._mutex:
            self._write_lock.acquire(blocking=True)
            try:
                self._refresh()
                if self._broken_edit is not None:
                    raise StorageUnavailable(
                        "The accounts file was edited by hand and is not valid; "
                        "an administrator must fix it before accounts can change."
                    )
                assert self._table is not None and self._storage is not None
                yield self._table
                self._index(self._storage.read())  # what we just wrote, from memory
            finally:
                self._write_lock.release()

    def _read(self, lookup: Callable[[], T]) -> T:
        # Every request reads here: take the mutex only when the file changed. The indexes
        # are swapped whole on reload, so a lookup sees the old or the new one, never half.
        if self._storage is None or self._storage.changed_on_disk():
            with self._mutex:
                self._refresh()
        return lookup()

    def get(self, user_id: str) -> UserRecord | None:
        """The account with this id, as the file says now."""
        found = self._read(lambda: self._by_id.get(user_id))
        return found.copy() if found else None

    def get_by_email(self, email: str) -> UserRecord | None:
        """The account with this email, as the file says now."""
        found = self._read(lambda: self._by_email.get(email))
        return found.copy() if found else None

    def all(self) -> list[UserRecord]:
        """Every account, in file order (oldest first)."""
        return self._read(lambda: [user.copy() for user in self._by_id.values()])

    def ids(self) -> set[str]:
        """The ids of every account."""
        return self._read(lambda: set(self._by_id))

    def add(self, user: UserRecord) -> None:
        """Insert an account; EmailAlreadyRegistered if its email is taken."""
        with self._writing() as table:
            if user["email"] in self._by_email:
                raise EmailAlreadyRegistered("An account with this email already exists.")
            table.insert(dict(user))

    def add_many(self, users: list[UserRecord]) -> None:
        """Insert many accounts in one write (restore)."""
        with self._writing() as table:
            table.insert_multiple(dict(user) for user in users)

    def set_role(self, email: str, role: Role) -> UserRecord | None:
        """Change one account's role; None if the email is unknown."""
        with self._writing() as table:
            user = self._by_email.get(email)
            if user is None:
                return None
            table.update({"role": role}, Query().id == user["id"])
        return self.get_by_email(email)

    def remove(self, user_id: str) -> bool:
        """Delete one account record; False if it was not there."""
        with self._writing() as table:
            if user_id not in self._by_id:
                return False
            table.remove(Query().id == user_id)
        return True
