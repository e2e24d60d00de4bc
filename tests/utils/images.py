"""Small valid images as data URLs, and where each backend keeps stored files."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import func, select

from BackEnd.storage import Database, TinyDBDatabase
from BackEnd.storage.sql import SQLDatabase
from BackEnd.storage.sql.schema import stored_files

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(64))
GIF = b"GIF89a" + bytes(range(32))
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(range(32))


def data_url(content_type: str, data: bytes) -> str:
    """`data:<type>;base64,<data>`."""
    return f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"


def stored_file_count(database: Database) -> int:
    """How many files the backend holds: on disk for TinyDB, rows for SQL."""
    if isinstance(database, TinyDBDatabase):
        return sum(1 for path in database.images.folder.iterdir())
    assert isinstance(database, SQLDatabase)
    with database.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(stored_files)).scalar_one())


def database_of(app: Any) -> Database:
    """The app's storage backend."""
    database: Database = app.state.context.database
    return database
