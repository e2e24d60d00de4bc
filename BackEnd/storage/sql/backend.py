"""The SQL backend (PostgreSQL or SQLite): one transaction per call, safe for many processes."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError

from ...errors import NotFoundError, RestoreError
from ..base import Database, UnitOfWork
from ..dump_stream import DumpSource, RestoreSource
from ..signals import LocalSignals, SignalChannel
from .dumps import export_all, import_all, is_empty
from .engine import (
    DEFAULT_TIMEOUTS,
    DatabaseTimeouts,
    Violation,
    database_location,
    integrity_violation,
    open_engine,
    refused_write,
    transaction,
)
from .migrate import upgrade
from .notify import PostgresSignals
from .units import SQLUnitOfWork

__all__ = ["SQLDatabase"]

logger = logging.getLogger(__name__)


class SQLDatabase(Database):
    """Tables in PostgreSQL or SQLite; any number of server processes may share them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.location = database_location(engine.url)

    @classmethod
    def open(cls, url: str, timeouts: DatabaseTimeouts = DEFAULT_TIMEOUTS) -> SQLDatabase:
        """Connect and bring the schema up to date; DatabaseUnavailable names an unreachable host."""
        engine = open_engine(url, timeouts)
        try:
            upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    @functools.cached_property
    def signals(self) -> SignalChannel:
        # SQLite is served by one process (WORKERS > 1 needs PostgreSQL for this, see the README).
        if self.engine.dialect.name == "postgresql":
            return PostgresSignals(self.engine)
        return LocalSignals()

    @contextmanager
    def unit_of_work(self, owner: str | None = None, *, write: bool = True) -> Iterator[UnitOfWork]:
        try:
            with transaction(self.engine, write=write) as db:
                yield SQLUnitOfWork(db)
        except IntegrityError as exc:
            # Only a reference to a row that went (an account or thread deleted meanwhile) is
            # "not found"; anything else is a fault the administrator must see, never a success.
            if integrity_violation(exc).kind is Violation.MISSING_REFERENCE:
                raise NotFoundError("Not found: it was deleted meanwhile.") from exc
            raise refused_write(self.engine, exc) from exc

    # -- whole database ------------------------------------------------------------------
    @contextmanager
    def dump_source(self) -> Iterator[DumpSource]:
        with transaction(self.engine, write=False, snapshot=True) as db:
            yield export_all(db)

    def restore(self, source: RestoreSource, advance: Callable[[int], None] = lambda _: None) -> None:
        try:
            with transaction(self.engine) as db:
                if not is_empty(db):
                    raise RestoreError(
                        f"the database at {self.location} is not empty; restore needs an empty one"
                    )
                import_all(db, source, advance)
        except DataError as exc:  # e.g. a NUL character, which PostgreSQL's text cannot hold
            raise RestoreError(f"the database refused a value of the dump: {exc.orig}") from exc
        except IntegrityError as exc:  # e.g. one message id in two threads (the reader checks within one)
            raise RestoreError(f"the database refused a record of the dump: {exc.orig}") from exc
        if source.moved:
            logger.warning("Brought %d conversation time(s) up to their last message", source.moved)
