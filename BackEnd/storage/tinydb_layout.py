"""The data folder's layout marker and the one-time conversion of a folder written before it."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from ..errors import DataFileCorrupt, DataFolderInvalid
from ..progress import Progress
from .files import read_json_file, write_durably
from .journal import FileTransaction
from .record_file import RecordFile
from .summaries import EMPTY
from .summary_flush import history_stamp, stamped_record
from .thread_files import ThreadFiles

__all__ = ["LAYOUT_VERSION", "Conversion", "is_converted", "write_marker"]

logger = logging.getLogger(__name__)

# 2: each conversation record stores its thread's `summary`, so start-up reads no history file.
LAYOUT_VERSION = 2
_MARKER = "layout.json"


def is_converted(folder: Path) -> bool:
    """Whether the folder's marker says it holds the current layout (refuses a newer one)."""
    path = folder / _MARKER
    marker = read_json_file(path)
    if marker is None:
        return False
    version = marker.get("version") if isinstance(marker, dict) else None
    if not isinstance(version, int) or isinstance(version, bool):
        raise DataFileCorrupt(path, 'expected {"version": <number>}')
    if version > LAYOUT_VERSION:
        raise DataFolderInvalid(
            f"data folder {folder} was written by a newer AssistantIA (layout {version}); upgrade to open it"
        )
    return version == LAYOUT_VERSION


def write_marker(folder: Path) -> None:
    """Say durably that the folder holds the current layout: written last, once it does."""
    write_durably(folder / _MARKER, json.dumps({"version": LAYOUT_VERSION}).encode("utf-8") + b"\n")


class Conversion:
    """A folder without stored summaries, read whole once (each record checked, as start-up used to
    check it) and then given them: each account's conversations file in its own commit, and the
    marker last. Summaries are computed from the history files and overwrite any a crashed run
    left, and the usage archives are not touched, so running it again gives the same result."""

    def __init__(self, folder: Path, threads: ThreadFiles) -> None:
        self.folder = folder
        self.threads = threads
        self._started = time.monotonic()
        self._reading = Progress(f"convert {folder.name}", threads.history_files(), unit="threads")
        self._writing: Progress | None = None

    def advance(self) -> None:
        """One more thread file was read."""
        self._reading.advance()

    def abandon(self) -> None:
        """The conversion stopped (a bad file): clear the live line for the error that follows."""
        for progress in (self._reading, self._writing):
            if progress is not None:
                progress.abandon()

    def write(self, user_ids: set[str]) -> None:
        """Store every account's summaries, then the marker; log what was converted."""
        threads, messages = (
            self._reading.done,
            sum(summary.count for summary in self.threads.summaries.values()),
        )
        self._reading.finish(f"{messages:,} messages read and checked")
        paths = [self.threads.conversations_dir / f"{user_id}.json" for user_id in sorted(user_ids)]
        paths = [path for path in paths if path.exists()]
        # A second line: writing thousands of small files, each synced, takes seconds of its own.
        self._writing = Progress(f"convert {self.folder.name}", len(paths), unit="accounts")
        for path in paths:
            table = RecordFile(path, "conversations", keep_decoded=True)
            transaction = FileTransaction(self.folder)
            with transaction.activate():
                for conversation_id in table.ids():
                    summary = self.threads.summaries.get(conversation_id, EMPTY)
                    stamp = history_stamp(self.threads.history_dir / f"{conversation_id}.json")
                    table.update(conversation_id, {"summary": stamped_record(summary, stamp)})
            unfinished = transaction.commit()
            if unfinished is not None:
                unfinished()  # nothing later in start-up would finish it: fail loudly now
            self._writing.advance()
        write_marker(self.folder)
        self._writing.finish("summaries stored")
        logger.warning(
            "converted data folder %s: %d threads, %d messages in %.1f s",
            self.folder.name,
            threads,
            messages,
            time.monotonic() - self._started,
        )
