"""Message images on TinyDB: one file each under `files/`, staged in the unit's file transaction."""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..records import is_valid_id
from .file_store import FileStore, StoredFile
from .files import Signature

if TYPE_CHECKING:
    from .tinydb_units import TinyUnitOfWork

__all__ = ["FileChanges", "FileEntry", "ImageFolder", "NewFile", "TinyFiles"]

logger = logging.getLogger(__name__)

_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}
_TYPES = {extension: content_type for content_type, extension in _EXTENSIONS.items()}
# <user_id>.<conversation_id>.<message_id>.<file_id>.<ext>: the name says whose file it is, so
# the folder needs no index file of its own (one more file every turn would have to rewrite).
_NAME = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([a-z]+)")


@dataclass(frozen=True)
class FileEntry:
    """What a file's name says about it."""

    id: str
    user_id: str
    conversation_id: str
    message_id: str
    content_type: str

    @property
    def name(self) -> str:
        """The file's name in the folder."""
        parts = (self.user_id, self.conversation_id, self.message_id, self.id)
        return ".".join(parts) + "." + _EXTENSIONS[self.content_type]


def _entry(name: str) -> FileEntry | None:
    match = _NAME.fullmatch(name)
    if match is None or match.group(5) not in _TYPES:
        return None
    user_id, conversation_id, message_id, file_id, extension = match.groups()
    if not (is_valid_id("file", file_id) and is_valid_id("usr", user_id)):
        return None
    return FileEntry(file_id, user_id, conversation_id, message_id, _TYPES[extension])


class ImageFolder:
    """The `files/` folder and, in memory, which file is whose (read from the names at start-up)."""

    def __init__(self, data_folder: Path) -> None:
        self.folder = data_folder / "files"
        self.entries: dict[str, FileEntry] = {}
        self._guard = threading.Lock()  # units of different owners commit and read at once

    def path(self, entry: FileEntry) -> Path:
        """Where the file lives."""
        return self.folder / entry.name

    def load(self) -> None:
        """Start-up: index the files (temp files were already removed by recovery)."""
        self.entries = {}
        for path in self.folder.iterdir():
            entry = _entry(path.name)
            if entry is not None:
                self.entries[entry.id] = entry

    def remove_orphans(self, referenced: set[str]) -> int:
        """Start-up: delete the files no stored message refers to (a crash's leftovers); how many."""
        orphans = [entry for file_id, entry in self.entries.items() if file_id not in referenced]
        for entry in orphans:
            self.path(entry).unlink(missing_ok=True)
            del self.entries[entry.id]
        if orphans:
            logger.warning("Removed %d image file(s) that no message refers to", len(orphans))
        return len(orphans)

    def of_thread(self, conversation_id: str) -> list[FileEntry]:
        """The thread's files (a scan: few threads carry images, and deletions are rare)."""
        with self._guard:
            return [entry for entry in self.entries.values() if entry.conversation_id == conversation_id]

    def all(self) -> list[FileEntry]:
        """Every file, by owner then id (a dump)."""
        with self._guard:
            return sorted(self.entries.values(), key=lambda entry: (entry.user_id, entry.id))

    def apply(self, changes: FileChanges) -> None:
        """A unit committed: its added files are on disk, its removed ones gone."""
        with self._guard:
            for file_id in changes.removed:
                self.entries.pop(file_id, None)
            self.entries.update(changes.added)


@dataclass
class FileChanges:
    """What a unit staged: committed into the folder's index only if the unit commits."""

    added: dict[str, FileEntry] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)


@dataclass
class NewFile:
    """An image's bytes, written by the transaction at commit (a StagedFile)."""

    path: Path
    data: bytes

    def encode(self) -> bytes:
        return self.data

    def committed(self, signature: Signature) -> None:
        pass  # nothing is cached: a file is read from disk when it is served

    def discard(self) -> None:
        pass


class TinyFiles(FileStore):
    """A unit's view of the image folder: its own staged changes first."""

    def __init__(self, unit: TinyUnitOfWork, folder: ImageFolder) -> None:
        self._unit = unit
        self._folder = folder
        self.changes = FileChanges()
        self._staged: dict[str, bytes] = {}

    def add(self, file: StoredFile) -> None:
        self._unit.lock_user(file.user_id)
        entry = FileEntry(file.id, file.user_id, file.conversation_id, file.message_id, file.content_type)
        self._unit.transaction.stage(NewFile(self._folder.path(entry), file.data))
        self.changes.added[file.id] = entry
        self._staged[file.id] = file.data

    def get(self, user_id: str, file_id: str) -> StoredFile | None:
        self._unit.lock_user(user_id)  # a deletion of this account's files cannot be half seen
        entry = self.changes.added.get(file_id) or self._folder.entries.get(file_id)
        if entry is None or entry.user_id != user_id or file_id in self.changes.removed:
            return None
        data = self._staged.get(file_id)
        if data is None:
            try:
                data = self._folder.path(entry).read_bytes()
            except FileNotFoundError:
                return None
        return StoredFile(
            entry.id, user_id, entry.conversation_id, entry.message_id, entry.content_type, data
        )

    def drop_thread(self, conversation_id: str) -> None:
        """Delete the thread's files with the unit (its history or the whole thread is going)."""
        staged = [entry for entry in self.changes.added.values() if entry.conversation_id == conversation_id]
        for entry in [*self._folder.of_thread(conversation_id), *staged]:
            self._unit.transaction.delete(self._folder.path(entry))
            self.changes.removed.add(entry.id)
            self.changes.added.pop(entry.id, None)
            self._staged.pop(entry.id, None)
