"""The SQL audit trail and throttling events (issue 12)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, text

from ...records import AuditRecord
from ..base import AuditTrail, Page, RecentEvents
from ..memory_events import seconds_until_under
from .schema import audit_events, recent_events

__all__ = ["AUDIT_COLUMNS", "SQLAudit", "SQLEvents"]

AUDIT_COLUMNS = tuple(column for column in audit_events.c if column.name != "seq")
_LOCK_QUICKLY = text(
    "SELECT set_config('synchronous_commit', 'off', true), pg_advisory_xact_lock(hashtext(:key))"
)
# This event is added if the key is under the limit within the window; else (nothing added) the
# key's times in the window come back, to say when it will be under again.
_COUNT_AND_ADD = text(
    """
    WITH forgotten AS (DELETE FROM recent_events WHERE key = :key AND at <= :cutoff),
    recent AS (SELECT at FROM recent_events WHERE key = :key AND at > :cutoff),
    added AS (
        INSERT INTO recent_events (key, at)
        SELECT :key, :now WHERE (SELECT count(*) FROM recent) < :limit
    )
    SELECT at FROM recent WHERE (SELECT count(*) FROM recent) >= :limit ORDER BY at
    """
)


class SQLAudit(AuditTrail):
    """The `audit_events` table."""

    def __init__(self, db: Connection) -> None:
        self._db = db

    def append(self, event: AuditRecord) -> None:
        self._db.execute(insert(audit_events), [dict(event)])

    def page(self, *, limit: int, offset: int) -> Page[AuditRecord]:
        total = self._db.execute(select(func.count()).select_from(audit_events)).scalar_one()
        rows = self._db.execute(
            select(*AUDIT_COLUMNS).order_by(audit_events.c.seq.desc()).limit(limit).offset(offset)
        )
        return Page(items=_all(rows), total=total)


class SQLEvents(RecentEvents):
    """The `recent_events` table; a key's check-and-add runs under a lock on that key."""

    def __init__(self, db: Connection) -> None:
        self._db = db

    def take(self, key: str, *, now: float, window: float, limit: int, record: bool) -> float | None:
        if record and self._db.dialect.name == "postgresql":
            # Parallel turns of one account, in any process, check and add one after the other:
            # the lock first, then (a statement whose snapshot follows the lock) forget, count and
            # add at once. A throttle's count is no one's data: its commit need not wait for the
            # disk (a crash of the database server forgets at most the last moment's counts),
            # which spares every chat turn a WAL flush (about 3 ms here).
            self._db.execute(_LOCK_QUICKLY, {"key": key})
            values = {"key": key, "now": now, "cutoff": now - window, "limit": limit}
            recent = list(self._db.execute(_COUNT_AND_ADD, values).scalars())
            return seconds_until_under(recent, now=now, window=window, limit=limit)
        mine = recent_events.c.key == key
        every = list(
            self._db.execute(select(recent_events.c.at).where(mine).order_by(recent_events.c.at)).scalars()
        )
        recent = [at for at in every if at > now - window]
        if len(recent) < len(every):  # forget what left the window (only when something did)
            self._db.execute(delete(recent_events).where(mine, recent_events.c.at <= now - window))
        wait = seconds_until_under(recent, now=now, window=window, limit=limit)
        if wait is None and record:
            self.add(key, now=now)
        return wait

    def add(self, key: str, *, now: float) -> None:
        self._db.execute(insert(recent_events), [{"key": key, "at": now}])

    def clear(self, key: str) -> None:
        self._db.execute(delete(recent_events).where(recent_events.c.key == key))


def _all(rows: Any) -> list[Any]:
    return [row._asdict() for row in rows]
