"""Multi-file commits for the data folder: a journal whose durable rename is the commit point.

The one crash-recovery rule of the TinyDB backend, which every record kind inherits:

1. each new file content goes to a durable temp file beside its target;
2. a journal naming every (temp → target) rename and every deletion is written durably:
   from that moment the change is committed;
3. the renames and deletions are applied, their folders synced, and the journal removed.

At start-up, a journal that is still there is applied again (each step is idempotent), and a
temp file that no journal names is the remains of a change that never committed: it is
deleted. Nothing else is ever deleted because of what start-up finds, so a data file whose
record is missing (a hand edit, a lost users.json) is left alone. Undoing an uncommitted
change only removes temp files: it needs no free space.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

from ..errors import DataFileCorrupt, StorageUnavailable
from .files import TEMP_SUFFIX, Payload, Signature, durable_temp, fsync_dir, read_json_file, write_durably

__all__ = [
    "FileTransaction",
    "StagedFile",
    "UnfinishedWork",
    "active_transaction",
    "check_journals",
    "finish_journal",
    "recover",
    "write_or_stage",
]

logger = logging.getLogger(__name__)

JOURNAL_PREFIX = ".journal-"
_active = threading.local()


class StagedFile(Protocol):
    """A file whose next content a transaction holds until it commits."""

    path: Path

    def encode(self) -> Payload:
        """The bytes the file must hold once the transaction commits."""

    def committed(self, signature: Signature) -> None:
        """The new content is the file's: `signature` is what was written (inode, size, mtime)."""

    def discard(self) -> None:
        """The transaction was abandoned: forget the staged content, the disk is the truth."""


def active_transaction() -> FileTransaction | None:
    """The transaction this thread is inside, if any: writes are staged in it."""
    transaction: FileTransaction | None = getattr(_active, "transaction", None)
    return transaction


class FileTransaction:
    """Writes and deletions under one data folder that take effect together, or not at all."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._files: dict[Path, StagedFile] = {}
        self._deletions: set[Path] = set()
        self._touched: dict[
            int, StagedFile
        ] = {}  # all ever staged, even if deleted since: rollback forgets it
        # Files already written durably beside their targets (a restore's thousands of threads):
        # renamed at commit like staged ones, but their content is never held in memory.
        self._written: list[tuple[str, Path]] = []

    @contextmanager
    def activate(self) -> Iterator[FileTransaction]:
        """Make this the thread's transaction for the block (no nesting)."""
        if active_transaction() is not None:
            raise RuntimeError("a file transaction is already active on this thread")
        _active.transaction = self
        try:
            yield self
        finally:
            _active.transaction = None

    def stage(self, staged: StagedFile) -> None:
        """Write `staged` at commit (its latest content then); cancels a staged deletion."""
        self._files[staged.path] = staged
        self._touched[id(staged)] = staged
        self._deletions.discard(staged.path)

    def add_written(self, temp_name: str, target: Path) -> None:
        """Rename `temp_name` (a durable temp file beside `target`) over `target` at commit."""
        self._written.append((temp_name, target))

    def delete(self, path: Path) -> None:
        """Delete `path` at commit."""
        self._files.pop(path, None)
        self._deletions.add(path)

    def rollback(self) -> None:
        """Forget everything staged; no file was changed."""
        for staged in self._touched.values():
            staged.discard()
        self._files.clear()
        self._touched.clear()
        self._deletions.clear()
        for name, _ in self._written:
            with suppress(OSError):
                os.unlink(name)
        self._written.clear()

    def commit(self) -> Callable[[], None] | None:
        """Make every staged change durable together.

        Before the commit point a failure (disk full...) raises StorageUnavailable and leaves
        the disk as it was, having only removed temp files. After it the change stands: what
        could not be finished (a folder sync, the journal's renames) is returned, to be done
        again before the folder is used further; None when all is done.
        """
        if not self._files and not self._deletions and not self._written:
            return None
        temps: list[tuple[str, Signature, StagedFile]] = []
        try:
            for staged in self._files.values():
                name, signature = durable_temp(staged.path, staged.encode())
                temps.append((name, signature, staged))
            if len(temps) == 1 and not self._deletions and not self._written:
                name, _, staged = temps[0]
                os.replace(name, staged.path)  # one file: its rename is the commit point
                unfinished = functools.partial(fsync_dir, staged.path.parent)
            else:
                renames = [(name, staged.path) for name, _, staged in temps] + self._written
                journal = self._write_journal(renames)
                unfinished = functools.partial(finish_journal, self.root, journal)
        except BaseException as exc:
            for name in [name for name, _, _ in temps] + [name for name, _ in self._written]:
                with suppress(OSError):
                    os.unlink(name)
            if isinstance(exc, OSError):
                raise StorageUnavailable(f"cannot write under {self.root}: {exc.strerror}") from exc
            raise
        for _, signature, staged in temps:
            staged.committed(signature)
        self._written = []  # the journal names them now: a later rollback must not remove them
        try:
            unfinished()
        except OSError as exc:
            logger.error("a committed change under %s is not finished yet: %s", self.root, exc.strerror)
            return unfinished
        return None

    def _write_journal(self, renames: list[tuple[str, Path]]) -> Path:
        journal = self.root / f"{JOURNAL_PREFIX}{secrets.token_hex(8)}.json"
        document = {
            "renames": [
                [_relative(self.root, Path(temp)), _relative(self.root, target)] for temp, target in renames
            ],
            "deletions": sorted(_relative(self.root, path) for path in self._deletions),
        }
        temp, _ = durable_temp(journal, json.dumps(document).encode("utf-8"))
        try:
            os.replace(temp, journal)  # the commit point
        except BaseException:
            with suppress(OSError):
                os.unlink(temp)
            raise
        return journal


class UnfinishedWork:
    """Committed changes whose last steps failed; they are done before the folder is used again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._steps: list[Callable[[], None]] = []

    def add(self, step: Callable[[], None]) -> None:
        """Remember a step to retry."""
        with self._lock:
            self._steps.append(step)

    def finish(self) -> None:
        """Retry every remembered step; StorageUnavailable while the disk still refuses one."""
        if not self._steps:  # the common case, checked without the lock
            return
        with self._lock:
            while self._steps:
                try:
                    self._steps[0]()
                except OSError as exc:
                    raise StorageUnavailable(f"cannot finish a committed change: {exc.strerror}") from exc
                self._steps.pop(0)


def write_or_stage(staged: StagedFile) -> None:
    """Stage `staged` in this thread's transaction, or write it durably now (outside one)."""
    transaction = active_transaction()
    if transaction is not None:
        transaction.stage(staged)
        return
    try:
        staged.committed(write_durably(staged.path, staged.encode()))
    except BaseException:
        staged.discard()  # the cache may hold what never reached the disk
        raise


def _relative(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _read_journal(journal: Path) -> dict[str, list[Any]]:
    document = read_json_file(journal)
    if not (
        isinstance(document, dict)
        and all(isinstance(document.get(key), list) for key in ("renames", "deletions"))
        and all(isinstance(pair, list) and len(pair) == 2 for pair in document["renames"])
    ):
        raise DataFileCorrupt(journal, "not a journal of renames and deletions")
    return document


def _apply(root: Path, journal: dict[str, list[Any]]) -> None:
    # Idempotent: a rename or deletion already done is skipped, so a crash may repeat it.
    folders: set[Path] = set()
    for temp, target in journal["renames"]:
        with suppress(FileNotFoundError):
            os.replace(root / temp, root / target)
        folders.add((root / target).parent)
    for deletion in journal["deletions"]:
        with suppress(FileNotFoundError):
            os.unlink(root / deletion)
        folders.add((root / deletion).parent)
    for folder in sorted(folders):
        fsync_dir(folder)
    # A journal found again after a crash names only renamed temps and deleted ids, which
    # never come back (ids are never reused): replaying it is harmless, so its removal
    # needs no folder sync.


def finish_journal(root: Path, journal: Path) -> None:
    """Carry out a committed journal and remove it; raises OSError if the disk refuses."""
    fsync_dir(root)  # the journal itself, before anything relies on it
    _apply(root, _read_journal(journal))
    os.unlink(journal)


def check_journals(root: Path) -> list[Path]:
    """Start-up, before any change: the committed journals left to finish (DataFileCorrupt if one is bad)."""
    journals = sorted(root.glob(f"{JOURNAL_PREFIX}*.json"))
    for journal in journals:
        _read_journal(journal)
    return journals


def recover(root: Path, journals: list[Path], folders: tuple[Path, ...]) -> int:
    """Start-up: finish the committed journals, then delete temp files (uncommitted); how many went."""
    for journal in journals:
        finish_journal(root, journal)
    removed = 0
    for folder in folders:
        for temp in folder.glob(f".*{TEMP_SUFFIX}"):
            temp.unlink()
            removed += 1
    return removed
