"""The default backend: TinyDB JSON files, one per user's threads and one per thread."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import DataFolderInUse, DataFolderInvalid, RestoreError, StorageUnavailable
from .base import Database, UnitOfWork
from .credit_files import CreditFiles
from .dump_stream import DumpSource, RestoreSource
from .files import FileLock
from .journal import FileTransaction, UnfinishedWork, check_journals, recover
from .memory_events import MemoryEvents
from .summary_flush import SummaryFlusher, flush_owner
from .thread_files import ThreadFiles
from .tiny_search import SearchCache
from .tinydb_dumps import export_folder, restore_folder
from .tinydb_files import ImageFolder
from .tinydb_layout import Conversion, is_converted, write_marker
from .tinydb_units import TinyUnitOfWork
from .usage_files import UsageIndex, owners_on_disk
from .users_file import UsersFile

__all__ = ["TinyDBDatabase", "accounts_unit"]

logger = logging.getLogger(__name__)
Counter = Callable[[str, str, dict[str, Any]], None]
# Bytes of search index kept in memory (about 450 bytes per indexed message, more for varied text); a
# user whose index was dropped has it rebuilt from their own files at their next search.
SEARCH_INDEX_CACHE_BYTES = 8 * 1024 * 1024


class TinyDBDatabase(Database):
    """TinyDB files under one data folder, owned by one process at a time.

    Layout: `users.json`; `conversations/<user_id>.json` (one user's threads);
    `historique/<conversation_id>.json` (one thread's messages). A chat turn touches only
    the caller's two small files, so its cost does not grow with the whole history.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.users = UsersFile(folder / "users.json")
        self.threads = ThreadFiles(folder)
        self.usage = UsageIndex(folder)
        self._owner_lock = FileLock(folder / ".server.lock")
        self._unfinished = UnfinishedWork()
        self.search_cache = SearchCache(SEARCH_INDEX_CACHE_BYTES)
        self._events = MemoryEvents()
        self.credits = CreditFiles(folder)
        self.images = ImageFolder(folder)
        self._flusher = SummaryFlusher(lambda wait_quiet: self.flush_summaries(wait_quiet=wait_quiet))

    @contextmanager
    def unit_of_work(self, owner: str | None = None, *, write: bool = True) -> Iterator[UnitOfWork]:
        self._check_ownership()
        self._unfinished.finish()
        unit = TinyUnitOfWork(
            self.users,
            self.threads,
            self.usage,
            FileTransaction(self.folder),
            self._unfinished,
            self.search_cache,
            self._events,
            self.credits,
            self.images,
        )
        try:
            if owner is not None:
                unit.lock_user(owner)
            with unit.transaction.activate():
                yield unit
        except BaseException:
            unit.finish(commit=False)
            raise
        unit.finish(commit=True)

    @classmethod
    def open(cls, folder: Path) -> TinyDBDatabase:
        """Take ownership of the folder, check every file and clear crash leftovers."""
        database = cls(folder)
        database._prepare_folder()
        database._take_ownership()
        try:
            database._recover()
        except BaseException:
            database.close()
            raise
        database.flush_summaries()  # the summaries start-up rebuilt, once every check has passed
        database._flusher.start()
        return database

    def close(self) -> None:
        """Store the summaries still in memory, then release the data folder for another process."""
        try:
            self._flusher.stop()
        finally:
            self._owner_lock.release()

    def flush_summaries(self, *, wait_quiet: bool = False) -> None:
        """Store every changed thread summary, stamped, one owner's file at a time (summary_flush.py).

        `wait_quiet`: the background flush, beside requests; start-up, restore and close() stamp all."""
        if not self._owner_lock.still_ours():  # a replaced folder is not ours to write
            return
        for user_id in list(self.threads.dirty):
            flush_owner(self.threads, self._unfinished, self.folder, user_id, wait_quiet=wait_quiet)

    # -- start-up ------------------------------------------------------------------------
    def _folders(self) -> tuple[Path, ...]:
        return (
            self.folder,
            self.threads.conversations_dir,
            self.threads.history_dir,
            self.usage.folder,
            self.credits.folder,
            self.images.folder,
        )

    def _prepare_folder(self) -> None:
        for folder in self._folders():
            if folder.exists() and not folder.is_dir():
                raise DataFolderInvalid(f"data path {folder} is a file, not a folder")
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DataFolderInvalid(f"cannot create data folder {folder}: {exc.strerror}") from exc

    def _take_ownership(self) -> None:
        try:
            acquired = self._owner_lock.acquire(blocking=False)
        except OSError as exc:
            raise DataFolderInvalid(f"cannot lock data folder {self.folder}: {exc.strerror}") from exc
        if not acquired:
            owner = self._owner_lock.path.read_text(encoding="utf-8").strip() or "unknown"
            raise DataFolderInUse(
                f"data folder {self.folder} is already used by another AssistantIA process "
                f"(pid {owner}); stop it, or set BDD_DIR to another folder"
            )
        self._owner_lock.write_owner(str(os.getpid()))

    def _recover(self) -> None:
        # Everything is checked before anything is changed: a refused start-up changes no file.
        journals = check_journals(self.folder)
        if not self.users.exists():
            if not self.threads.is_empty() or journals:
                raise DataFolderInvalid(
                    f"data folder {self.folder} holds conversations but no users.json; "
                    "put the accounts file back (or restore a dump into an empty folder)"
                )
            self.users.create_empty()
            write_marker(self.folder)  # a new folder starts in the current layout
        self.users.load()
        conversion = None if is_converted(self.folder) else Conversion(self.folder, self.threads)
        referenced: set[str] = set()  # the image files some stored message refers to (conversion)
        try:
            unreferenced = self._read_threads(conversion if not journals else None, referenced)
            finished = len(journals)
            removed = recover(self.folder, journals, self._folders())
            if journals:  # the files they finished are what the figures in memory must come from
                unreferenced = self._read_threads(conversion, referenced)
            self.usage.forget_archives()  # journals may have finished archive writes
            self.images.load()
            if conversion is not None:
                # An image is committed with its message, so only an interrupted commit of an older
                # version or a hand edit leaves one no message names: it could never be served or
                # deleted, so it goes. Only a conversion reads every message to know.
                self.images.remove_orphans(referenced)
                conversion.write(self.users.ids())
                # Read back as every later start-up will: the same figures, in less memory.
                self._read_threads(None, referenced)
                self.usage.forget_archives()
        except BaseException:
            if conversion is not None:
                conversion.abandon()
            raise
        unreferenced = [path for path in unreferenced if path.exists()]
        if self.threads.rebuilt:
            logger.warning(
                "rebuilt %d thread summaries after an interruption (their history files changed since "
                "the summaries were stored)",
                self.threads.rebuilt,
            )
        if finished or removed:
            logger.warning(
                "Finished %d committed change(s) and removed %d uncommitted temp file(s) "
                "left by an interruption",
                finished,
                removed,
            )
        if unreferenced:
            logger.warning(
                "%d data file(s) belong to no account or conversation and were left in place, e.g. %s",
                len(unreferenced),
                unreferenced[0],
            )

    def _read_threads(self, conversion: Conversion | None, referenced: set[str]) -> list[Path]:
        """The figures start-up keeps in memory: from the stored summaries (no history file read),
        or, for a folder still to convert, from every message, each checked."""
        self.usage.reset()
        self.threads.summaries.clear()
        self.threads.last_message.clear()
        if is_converted(self.folder):
            return self.threads.load(self.users.ids(), self.usage.count_thread)
        referenced.clear()
        on_thread = conversion.advance if conversion is not None else None
        # No usage counted here: the summaries carry it, and the conversion reads them back.
        return self.threads.check(self.users.ids(), _noting(referenced), on_thread)

    def _check_ownership(self) -> None:
        # The folder may have been deleted and made again under a running server: its lock
        # file is then a new one that another process could take. Serve nothing from it.
        if not self._owner_lock.still_ours():
            raise StorageUnavailable(
                f"data folder {self.folder} was replaced or removed while the server ran; restart it"
            )

    # -- whole database ------------------------------------------------------------------
    @contextmanager
    def dump_source(self) -> Iterator[DumpSource]:
        self._check_ownership()
        yield export_folder(self)
        self.threads.trim()

    def restore(self, source: RestoreSource, advance: Callable[[int], None] = lambda _: None) -> None:
        if self.users.ids() or not self.threads.is_empty() or owners_on_disk(self.usage.folder):
            raise RestoreError(f"data folder {self.folder} is not empty; restore needs an empty one")
        # One file transaction: an interrupted restore leaves the folder empty (or, past the
        # commit point, whole), so it can simply be run again. History files are written as
        # durable temp files as the dump is read; the journal renames them all at the commit.
        transaction = FileTransaction(self.folder)
        self.usage.reset()
        with self.users.writing() as table:
            try:
                with transaction.activate():
                    threads = restore_folder(self, source, transaction, table, advance)
                unfinished = transaction.commit()
            except BaseException:
                transaction.rollback()
                self.users.abandoned()
                self.usage.reset()
                raise
            self.users.committed()
        if unfinished is not None:
            unfinished()  # a restore has no later request to finish it: fail loudly now
        for conversation_id, summary in source.summaries.items():
            self.threads.summaries[conversation_id] = summary
            self.threads.last_message[conversation_id] = summary.last
        for user_id, conversation_ids in threads.items():  # stamped now that the history files exist
            self.threads.dirty.setdefault(user_id, set()).update(conversation_ids)
        self.flush_summaries()
        self.usage.forget_archives()
        self.images.load()
        if source.moved:
            logger.warning("Brought %d conversation time(s) up to their last message", source.moved)


def _noting(referenced: set[str]) -> Counter:
    """Notes the stored images each message refers to."""

    def note(user_id: str, conversation_id: str, message: dict[str, Any]) -> None:
        referenced.update(image["id"] for image in message.get("images") or () if image["id"])

    return note


@contextmanager
def accounts_unit(folder: Path) -> Iterator[UnitOfWork]:
    """A unit of work over the accounts file alone, for commands run beside a running server.

    Like a hand edit of users.json: it takes the file's lock, which the server's own writes
    take too, and the server reads the change on its next request. Its `threads` must not be
    used (the server owns those files).
    """
    users = UsersFile(folder / "users.json")
    users.load()
    transaction = FileTransaction(folder)
    unfinished = UnfinishedWork()
    # Accounts only: the thread-side indexes of this short-lived process start empty and stay unused.
    unit = TinyUnitOfWork(
        users,
        ThreadFiles(folder),
        UsageIndex(folder),
        transaction,
        unfinished,
        SearchCache(SEARCH_INDEX_CACHE_BYTES),
        MemoryEvents(),
        CreditFiles(folder),
        ImageFolder(folder),
    )
    try:
        with transaction.activate():
            yield unit
    except BaseException:
        unit.finish(commit=False)
        raise
    unit.finish(commit=True)
    unfinished.finish()  # no later request of this process would finish it: do it now
