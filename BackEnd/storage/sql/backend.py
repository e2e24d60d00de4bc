"""The SQL backend (PostgreSQL or SQLite): one transaction per call, safe for many processes."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError

from ...errors import NotFoundError, RestoreError, StorageUnavailable
from ..base import Database, Dump, UnitOfWork
from .dumps import export_all, import_all, is_empty
from .engine import database_location, open_engine, transaction
from .migrate import upgrade
from .units import SQLUnitOfWork

__all__ = ["SQLDatabase"]

logger = logging.getLogger(__name__)


class SQLDatabase(Database):
    """Tables in PostgreSQL or SQLite; any number of server processes may share them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.location = database_location(engine.url)

    @classmethod
    def open(cls, url: str) -> SQLDatabase:
        """Connect and bring the schema up to date; DatabaseUnavailable names an unreachable host."""
        engine = open_engine(url)
        try:
            upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def unit_of_work(self, owner: str | None = None, *, write: bool = True) -> Iterator[UnitOfWork]:
        try:
            with transaction(self.engine, write=write) as db:
                yield SQLUnitOfWork(db)
        except IntegrityError as exc:
            if _is_missing_reference(exc):
                raise NotFoundError("Not found: it was deleted meanwhile.") from exc
            raise StorageUnavailable(f"the database at {self.location} refused a change: {exc.orig}") from exc

    # -- whole database ------------------------------------------------------------------
    def export_dump(self) -> Dump:
        with transaction(self.engine, write=False, snapshot=True) as db:
            return export_all(db)

    def import_dump(self, dump: Dump) -> None:
        try:
            with transaction(self.engine) as db:
                if not is_empty(db):
                    raise RestoreError(
                        f"the database at {self.location} is not empty; restore needs an empty one"
                    )
                refreshed = import_all(db, dump)
        except DataError as exc:  # e.g. a NUL character, which PostgreSQL's text cannot hold
            raise RestoreError(f"the database refused a value of the dump: {exc.orig}") from exc
        if refreshed:
            logger.warning("Brought %d conversation time(s) up to their last message", refreshed)


def _is_missing_reference(exc: IntegrityError) -> bool:
    # A foreign key that points nowhere: the account or thread was deleted during the change.
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate == "23503" or "FOREIGN KEY constraint failed" in str(exc.orig)
