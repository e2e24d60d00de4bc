"""users.json: hand-editable, re-read when edited, and never overwritten over an edit."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from tinydb import Query, TinyDB
from tinydb.table import Table

from ..emails import email_key
from ..errors import DataFileCorrupt, StorageUnavailable
from ..record_checks import record_problem
from ..records import AuditRecord, Role, UserRecord, with_account_defaults
from .files import FileLock
from .tinydb_storage import DurableJSONStorage

__all__ = ["UsersFile"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_TABLE = "users"
# The audit trail lives beside the accounts: the server and the command line both append to it
# under the file's lock, and an action commits with the account change it records.
_AUDIT = "audit"
# A writer gives up after this long: a suspended `promote` must not hang sign-ups forever.
WRITE_LOCK_SECONDS = 3.0
_BUSY = "The accounts file is locked by another program; try again shortly."


def _check_user(path: Path, key: str, doc: dict[str, Any]) -> None:
    problem = record_problem("user", doc)
    if problem is not None:
        raise DataFileCorrupt(path, f"user #{key} {problem}")


class UsersFile:
    """The accounts, kept in `users.json` as one TinyDB table, indexed by id and email.

    People promote admins by editing this file while the server runs, so every access
    first checks whether the file changed on disk, and every write re-reads it under an
    inter-process lock (shared with `python main.py promote`) before changing it. Readers
    never wait for that lock: they use the last indexes, swapped whole after each change.
    """

    def __init__(self, path: Path, *, lock_seconds: float = WRITE_LOCK_SECONDS) -> None:
        self.path = path
        self._lock_seconds = lock_seconds
        self._reload_mutex = threading.Lock()  # held only while re-reading, never while waiting
        self._writer = threading.Lock()
        self._file_lock = FileLock(path.with_name(".users.lock"))
        self._table: Table | None = None
        self._storage: DurableJSONStorage | None = None
        self._by_id: dict[str, UserRecord] = {}
        self._by_email: dict[str, UserRecord] = {}
        self._audit: list[AuditRecord] = []
        self._db: TinyDB | None = None
        self._broken_edit: DataFileCorrupt | None = None

    def exists(self) -> bool:
        """Whether the file is there."""
        return self.path.is_file()

    def load(self) -> None:
        """Read and check the file; DataFileCorrupt (naming it) if it cannot be used."""
        with self._reload_mutex:
            self._reload()

    def _reload(self) -> None:
        db = TinyDB(str(self.path), storage=DurableJSONStorage, indent=2)
        storage: DurableJSONStorage = db.storage  # type: ignore[assignment]
        tables = storage.read()
        if tables is None:
            # Once accounts exist, a missing file is an accident (moved, deleted), never "no
            # accounts": answering 401 to everyone, or writing a fresh file, would lose them.
            raise StorageUnavailable(f"the accounts file {self.path} is missing")
        self._index(tables)
        self._storage, self._table, self._db = storage, db.table(_TABLE), db
        self._broken_edit = None

    def _index(self, tables: dict[str, Any] | None) -> None:
        """Check every account and swap in new indexes (whole, so lock-free readers stay safe)."""
        by_id: dict[str, UserRecord] = {}
        by_email: dict[str, UserRecord] = {}
        for key, doc in (tables or {}).get(_TABLE, {}).items():
            _check_user(self.path, key, doc)
            record = with_account_defaults(doc)
            email = email_key(record["email"])  # a hand edit may spell it another way
            if record["id"] in by_id or email in by_email:
                raise DataFileCorrupt(self.path, f"user #{key} repeats an id or an email")
            by_id[record["id"]] = record
            by_email[email] = record
        audit = (tables or {}).get(_AUDIT, {})
        events: list[AuditRecord] = [audit[key] for key in sorted(audit, key=int)]
        self._by_id, self._by_email, self._audit = by_id, by_email, events

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
    def writing(self) -> Iterator[Table]:
        """Hold the write locks, re-read the file, and yield its table to change.

        Inside a file transaction the change is staged: call `committed` or `abandoned` once
        it is decided. Outside one it is written at once.
        """
        if not self._writer.acquire(timeout=self._lock_seconds):
            raise StorageUnavailable(_BUSY)
        try:
            self._acquire_file_lock()
            try:
                with self._reload_mutex:
                    self._refresh()
                if self._broken_edit is not None:
                    raise StorageUnavailable(
                        "The accounts file was edited by hand and is not valid; "
                        "an administrator must fix it before accounts can change."
                    )
                assert self._table is not None
                yield self._table
            finally:
                self._file_lock.release()
        finally:
            self._writer.release()

    def _acquire_file_lock(self) -> None:
        # Polled rather than blocking: a blocking flock cannot time out, and a write must
        # never go ahead without the lock (the other program's edit would be overwritten).
        deadline = time.monotonic() + self._lock_seconds
        while True:
            try:
                if self._file_lock.acquire(blocking=False):
                    return
            except OSError as exc:
                raise StorageUnavailable(f"cannot lock {self._file_lock.path}: {exc.strerror}") from exc
            if time.monotonic() >= deadline:
                raise StorageUnavailable(_BUSY)
            time.sleep(0.02)

    def committed(self) -> None:
        """A staged change is on disk: index it."""
        assert self._storage is not None
        self._index(self._storage.read())

    def abandoned(self) -> None:
        """A staged change was given up: read the file again on next use."""
        if self._storage is not None:
            self._storage.discard()
        self._storage = None

    def staged_records(self) -> list[UserRecord]:
        """The accounts as the current writer has changed them (call inside `writing`)."""
        assert self._table is not None
        return [dict(doc) for doc in self._table.all()]  # type: ignore[misc]

    def audit_table(self) -> Table:
        """The audit trail's table, to change inside `writing`."""
        assert self._db is not None
        return self._db.table(_AUDIT)

    def staged_audit(self) -> list[AuditRecord]:
        """The audit trail as the current writer has changed it, oldest first (call inside `writing`)."""
        return [dict(doc) for doc in self.audit_table().all()]  # type: ignore[misc]

    def audit(self) -> list[AuditRecord]:
        """The audit trail, oldest first."""
        return self._read(lambda: list(self._audit))

    def _read(self, lookup: Callable[[], T]) -> T:
        # Every request reads here: take the mutex only when the file changed. The indexes
        # are swapped whole on reload, so a lookup sees the old or the new one, never half.
        if self._storage is None or self._storage.changed_on_disk():
            with self._reload_mutex:
                self._refresh()
        return lookup()

    def get(self, user_id: str) -> UserRecord | None:
        """The account with this id, as the file says now."""
        found = self._read(lambda: self._by_id.get(user_id))
        return found.copy() if found else None

    def get_by_email(self, email: str) -> UserRecord | None:
        """The account with this email, as the file says now."""
        found = self._read(lambda: self._by_email.get(email_key(email)))
        return found.copy() if found else None

    def all(self) -> list[UserRecord]:
        """Every account, in file order (oldest first)."""
        return self._read(lambda: [user.copy() for user in self._by_id.values()])

    def ids(self) -> set[str]:
        """The ids of every account."""
        return self._read(lambda: set(self._by_id))

    def set_role(self, email: str, role: Role) -> UserRecord | None:
        """Change one account's role at once (the `promote` command); None if the email is unknown."""
        with self.writing() as table:
            user = self._by_email.get(email_key(email))
            if user is None:
                return None
            table.update({"role": role}, Query().id == user["id"])
            self.committed()
        return self.get_by_email(email)

    def add_many(self, users: list[UserRecord]) -> None:
        """Insert many accounts at once (restore)."""
        with self.writing() as table:
            table.insert_multiple(dict(user) for user in users)
            self.committed()

    def create_empty(self) -> None:
        """Write an empty accounts file (a new data folder)."""
        with self._reload_mutex:
            TinyDB(str(self.path), storage=DurableJSONStorage, indent=2).table(_TABLE).truncate()
            self._reload()
