"""Multi-file commits for the data folder: a journal whose durable rename is the commit point.

The one crash-recovery rule of the TinyDB backend, which every record kind inherits:

1. each new file content goes to a durable temp file beside its target, except a change a
   file can take in place (a thread's new messages: file_patch.py), which is kept as bytes;
2. a journal naming every (temp → target) rename, every deletion and every in-place patch
   (with its bytes) is written durably: from that moment the change is committed;
3. the renames, deletions and patches are applied, files and folders synced, and the journal
   removed.

At start-up, a journal that is still there is applied again (each step is idempotent: a patch
writes the same bytes at the same offset and cuts the file at the same length), and a temp
file that no journal names is the remains of a change that never committed: it is deleted. A
patched file is never touched before its journal is durable, so an uncommitted patch leaves it
byte for byte. Nothing else is ever deleted because of what start-up finds, so a data file whose
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
from .file_patch import Patch, apply_patch, patch_from_journal, patch_to_journal
from .files import TEMP_SUFFIX, Payload, Signature, durable_temp, fsync_dir, read_json_file, write_durably

__all__ = [
    "FileTransaction",
    "PatchableFile",
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
# Folders where a journal with patches was removed and the removal not yet synced. A patch
# replayed over a later rewrite of its file would undo that rewrite, so a rewrite first syncs
# these; a later journal's own folder sync covers them too. Lazy, so a turn pays no extra sync.
_unsynced_removals: set[Path] = set()
_removals_guard = threading.Lock()


def _sync_removals() -> None:
    """Make the removal of every applied patch journal durable (before a file is rewritten)."""
    if not _unsynced_removals:  # the common case, checked without the lock
        return
    with _removals_guard:
        for root in sorted(_unsynced_removals):
            fsync_dir(root)
        _unsynced_removals.clear()


class StagedFile(Protocol):
    """A file whose next content a transaction holds until it commits."""

    path: Path

    def encode(self) -> Payload:
        """The bytes the file must hold once the transaction commits."""

    def committed(self, signature: Signature) -> None:
        """The new content is the file's: `signature` is what was written (inode, size, mtime)."""

    def discard(self) -> None:
        """The transaction was abandoned: forget the staged content, the disk is the truth."""


class PatchableFile(StagedFile, Protocol):
    """A staged file that can often take its change in place rather than be rewritten whole."""

    def patch(self) -> Patch | None:
        """The change as bytes to write at an offset (then cut the file there), or None: rewrite it.

        A patched file's `committed` receives (0, its new size, 0): it keeps its inode, and
        its mtime is not read back.
        """


def _patch_of(staged: StagedFile) -> Patch | None:
    patch = getattr(staged, "patch", None)
    return None if patch is None else patch()


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
        patches: list[tuple[Patch, StagedFile]] = []
        try:
            for staged in self._files.values():
                patch = _patch_of(staged)
                if patch is not None:  # a few lines added to a long thread: no rewrite of the file
                    patches.append((patch, staged))
                    continue
                name, signature = durable_temp(staged.path, staged.encode())
                temps.append((name, signature, staged))
            if len(temps) == 1 and not self._deletions and not patches and not self._written:
                name, _, staged = temps[0]
                _sync_removals()
                os.replace(name, staged.path)  # one file: its rename is the commit point
                unfinished = functools.partial(fsync_dir, staged.path.parent)
            else:
                renames = [(name, staged.path) for name, _, staged in temps] + self._written
                journal = self._write_journal(renames, [(staged.path, patch) for patch, staged in patches])
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
        for patch, staged in patches:
            staged.committed((0, patch.size, 0))
        self._written = []  # the journal names them now: a later rollback must not remove them
        try:
            unfinished()
        except OSError as exc:
            logger.error("a committed change under %s is not finished yet: %s", self.root, exc.strerror)
            return unfinished
        return None

    def _write_journal(self, renames: list[tuple[str, Path]], patches: list[tuple[Path, Patch]]) -> Path:
        journal = self.root / f"{JOURNAL_PREFIX}{secrets.token_hex(8)}.json"
        document: dict[str, list[Any]] = {
            "renames": [
                [_relative(self.root, Path(temp)), _relative(self.root, target)] for temp, target in renames
            ],
            "deletions": sorted(_relative(self.root, path) for path in self._deletions),
        }
        if patches:  # absent otherwise: a journal without patches reads as older versions wrote it
            document["patches"] = [
                patch_to_journal(_relative(self.root, path), patch) for path, patch in patches
            ]
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
        _sync_removals()
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
    patches = document.setdefault("patches", [])
    if not isinstance(patches, list) or any(patch_from_journal(entry) is None for entry in patches):
        raise DataFileCorrupt(journal, "a patch of the journal is not (file, offset, bytes)")
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
    for entry in journal["patches"]:
        relative_path, patch = patch_from_journal(entry) or ("", Patch(0, b""))
        with suppress(FileNotFoundError):  # deleted by a later committed change: nothing to patch
            apply_patch(root / relative_path, patch)
    for folder in sorted(folders):
        fsync_dir(folder)
    # A journal of renames and deletions found again after a crash names only renamed temps
    # and deleted ids, which never come back (ids are never reused): replaying it is
    # harmless, so its removal needs no folder sync. One with patches is not (finish_journal).


def finish_journal(root: Path, journal: Path) -> None:
    """Carry out a committed journal and remove it; raises OSError if the disk refuses."""
    with _removals_guard:  # taken out before the sync: a removal added meanwhile stays pending
        pending = root in _unsynced_removals
        _unsynced_removals.discard(root)
    try:
        fsync_dir(root)  # the journal itself, before anything relies on it (and earlier removals)
    except OSError:
        if pending:
            with _removals_guard:
                _unsynced_removals.add(root)
        raise
    document = _read_journal(journal)
    _apply(root, document)
    os.unlink(journal)
    if document["patches"]:
        # Replaying it is harmless until its file changes again: the next journal's folder
        # sync, or a rewrite's (_sync_removals), makes the removal durable first.
        with _removals_guard:
            _unsynced_removals.add(root)


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
    _sync_removals()
    removed = 0
    for folder in folders:
        for temp in folder.glob(f".*{TEMP_SUFFIX}"):
            temp.unlink()
            removed += 1
    return removed
