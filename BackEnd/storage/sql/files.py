"""Message images in SQL: the stored_files table, emptied by its foreign key's cascade."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from ..file_store import FileStore, StoredFile
from .schema import stored_files

__all__ = ["SQLFiles", "insert_files"]


class SQLFiles(FileStore):
    """Rows of stored_files, in the unit's transaction."""

    def __init__(self, db: Connection) -> None:
        self._db = db

    def add(self, file: StoredFile) -> None:
        self._db.execute(insert(stored_files).values(**_row(file)))

    def get(self, user_id: str, file_id: str) -> StoredFile | None:
        row = self._db.execute(
            select(stored_files).where(stored_files.c.id == file_id, stored_files.c.user_id == user_id)
        ).first()
        return None if row is None else StoredFile(**row._asdict())


def _row(file: StoredFile) -> dict[str, object]:
    return {
        "id": file.id,
        "user_id": file.user_id,
        "conversation_id": file.conversation_id,
        "message_id": file.message_id,
        "content_type": file.content_type,
        "data": file.data,
    }


def insert_files(db: Connection, files: list[StoredFile]) -> None:
    """A restore's files, after their messages."""
    for file in files:  # one at a time: a batch of 5 MB images would be one huge statement
        db.execute(insert(stored_files).values(**_row(file)))
