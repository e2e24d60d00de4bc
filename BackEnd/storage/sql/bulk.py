"""Many rows into one table at once: PostgreSQL's COPY, or batched INSERTs elsewhere (a restore)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import JSON, Connection, Table, insert

__all__ = ["RESTORE_BATCH", "insert_rows"]

# Rows per batch: large enough to be fast, small enough for any driver and for memory.
RESTORE_BATCH = 5_000


def insert_rows(
    db: Connection,
    table: Table,
    rows: Iterable[dict[str, Any]],
    advance: Callable[[int], None] = lambda _: None,
) -> None:
    """Insert `rows` (dicts of column values), calling `advance(n)` as batches go in.

    On PostgreSQL COPY, in the caller's transaction: a restore's 100,000 message and index rows
    took 13 s as pipelined INSERTs (psycopg's per-row round of the pipeline dominated the profile).
    """
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == RESTORE_BATCH:
            _write(db, table, batch)
            advance(len(batch))
            batch = []
    if batch:
        _write(db, table, batch)
        advance(len(batch))


def _write(db: Connection, table: Table, batch: list[dict[str, Any]]) -> None:
    if db.dialect.name != "postgresql":
        db.execute(insert(table), batch)
        return
    columns = [column for column in table.c if column.name in batch[0]]
    as_json = [isinstance(column.type, JSON) for column in columns]
    names = ", ".join(f'"{column.name}"' for column in columns)
    cursor = db.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in batch:
            values = [row.get(column.name) for column in columns]
            copy.write_row(
                [
                    json.dumps(value) if is_json and value is not None else value
                    for value, is_json in zip(values, as_json, strict=True)
                ]
            )
