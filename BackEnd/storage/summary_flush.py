"""Thread summaries persisted lazily: stamped with the history file they describe, flushed in the background."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import StorageUnavailable
from .files import file_signature
from .journal import FileTransaction, UnfinishedWork
from .record_file import RecordFile
from .summaries import EMPTY, ThreadSummary, summary_record

__all__ = [
    "FLUSH_SECONDS",
    "Stamp",
    "SummaryFlusher",
    "flush_owner",
    "history_stamp",
    "stamp_of",
    "stamped_record",
]

logger = logging.getLogger(__name__)

# How long a changed summary may wait in memory. A crash before the flush costs only a rebuild of
# the changed threads' summaries at start-up (their files' stamps differ), never a wrong figure.
FLUSH_SECONDS = 5.0
_STAMP = "file"  # the summary's field holding its history file's [size, mtime_ns], or null
# A file's mtime has the kernel's coarse clock (a few ms): two writes of the same size in one tick
# would look alike. The periodic flush stamps only files quiet for this long, so any later write has
# a later mtime; the others wait for the next round.
_QUIET_NS = 100_000_000

# (size, mtime_ns): no inode, so a copy that keeps times (`cp -a`, `rsync -a`, a backup) still
# matches; a rewrite or a patch changes the mtime, an append the size too.
Stamp = tuple[int, int]


def history_stamp(history: Path) -> Stamp | None:
    """The history file's stamp now; None if there is no such file."""
    signature = file_signature(history)
    return None if signature is None else (signature[1], signature[2])


def stamped_record(summary: ThreadSummary, stamp: Stamp | None) -> dict[str, Any]:
    """The stored `summary` object of a thread, stamped with its history file.

    The stamp is taken under the owner's lock after the commit that made `summary` true of the file."""
    return {**summary_record(summary), _STAMP: None if stamp is None else list(stamp)}


def stamp_of(stored: object) -> Stamp | None | str:
    """The stamp a stored summary carries (None: no history file then), or "" when it has none valid
    (a summary written before stamps, or a hand edit): such a summary is rebuilt at start-up. A record
    without a summary was written before its thread had a message (None): no file expected."""
    if stored is None:
        return None
    stamp = stored.get(_STAMP, "") if isinstance(stored, dict) else ""
    if stamp is None:
        return None
    if (
        isinstance(stamp, list)
        and len(stamp) == 2
        and all(isinstance(part, int) and not isinstance(part, bool) for part in stamp)
    ):
        return (stamp[0], stamp[1])
    return ""


def flush_owner(
    threads: Any, unfinished: UnfinishedWork, folder: Path, user_id: str, *, wait_quiet: bool = False
) -> bool:
    """Write one owner's changed summaries, stamped, in one durable single-file write under the
    owner's lock; False (the owner stays dirty) if the disk refused. With `wait_quiet` (the periodic
    flush, while requests may write), a thread whose file was written in the last 100 ms waits."""
    with threads.lock(user_id):
        conversation_ids = threads.dirty.pop(user_id, set())
        path = threads.conversations_dir / f"{user_id}.json"
        if not conversation_ids or not path.exists():  # nothing changed, or the account is gone
            return True
        transaction = FileTransaction(folder)
        try:
            # An older commit's unfinished journal goes first, as before any unit's commit.
            unfinished.finish()
            # An owner not served since start-up (its summary rebuilt there) is written through a
            # table of its own: caching every owner's records would hold the whole folder in memory.
            table = threads.cached_conversations(user_id) or RecordFile(path, "conversations")
            waiting: set[str] = set()
            with transaction.activate():
                for conversation_id in sorted(conversation_ids):
                    stamp = history_stamp(threads.history_dir / f"{conversation_id}.json")
                    if wait_quiet and stamp is not None and time.time_ns() - stamp[1] < _QUIET_NS:
                        waiting.add(conversation_id)
                        continue
                    summary = threads.summaries.get(conversation_id, EMPTY)
                    table.update(conversation_id, {"summary": stamped_record(summary, stamp)})
            step = transaction.commit()
        except (StorageUnavailable, OSError) as exc:
            transaction.rollback()
            threads.forget(user_id, [])  # the cached table may hold the abandoned change
            threads.dirty.setdefault(user_id, set()).update(conversation_ids)
            logger.error("cannot store the thread summaries of %s yet: %s", user_id, exc)
            return False
        if step is not None:
            unfinished.add(step)
        if waiting:
            threads.dirty.setdefault(user_id, set()).update(waiting)
        return True


class SummaryFlusher:
    """A daemon thread that flushes every dirty owner every FLUSH_SECONDS, and at `stop()`."""

    def __init__(self, flush_all: Callable[[bool], None], period: float | None = None) -> None:
        """`flush_all(wait_quiet)`: True while requests may write (each round), False at `stop()`."""
        self._flush_all = flush_all
        self._period = FLUSH_SECONDS if period is None else period  # read when made: tests shorten it
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="summary-flusher", daemon=True)
        self._started = False

    def start(self) -> None:
        """Begin flushing in the background."""
        self._started = True
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, then flush what is left (the caller's close()). Never started (a refused
        start-up): nothing is written, as a refused start-up changes no file."""
        if not self._started:
            return
        self._started = False
        self._stopping.set()
        self._thread.join()
        self._flush_all(False)

    def _run(self) -> None:
        while not self._stopping.wait(self._period):
            try:
                self._flush_all(True)
            except Exception:  # a background thread must not die silently: the next round retries
                logger.exception("flushing thread summaries failed")
