"""The TinyDB usage ledger: each live thread's share in its stored summary, plus an archive of deleted threads.

An answer's history line carries its model, day and usage, and the thread's `summary` in its
owner's conversations file (`summaries.py`) sums them per day and model, written in the same
commit. The threads' counts live in memory, read at start-up from those summaries; what a
thread spent moves into its owner's `usage/<user_id>.json` when the thread or its messages are
deleted, in the same file transaction, so spending outlives the thread. An archive is read on
its account's first need (not at start-up) and kept in a small LRU.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

from ..records import is_valid_id
from .base import UsageTotals
from .record_file import RecordFile
from .usage_lines import (
    Key,
    Lines,
    add_line,
    answer_figures,
    as_records,
    line_problem,
    usage_figures,
    usage_problem,
    write_lines,
)
from .usage_pack import PackedLines, read_archive

__all__ = [
    "Key",
    "LedgerChanges",
    "Lines",
    "UsageIndex",
    "answer_figures",
    "as_records",
    "line_problem",
    "owners_on_disk",
    "read_archive",
    "usage_figures",
    "usage_problem",
    "write_lines",
]

_T = TypeVar("_T")


class LedgerChanges:
    """What one unit of work did to the ledger, applied to the index once it commits."""

    def __init__(self) -> None:
        self.added: list[tuple[str, str, Key, UsageTotals]] = []  # user, thread, line, figures
        self.dropped_threads: set[tuple[str, str]] = set()  # (owner, thread)
        self.forgotten_users: set[str] = set()
        self.archived_users: set[str] = set()  # whose archive file the unit wrote

    def pending(self, *, user_id: str | None = None, conversation_id: str | None = None) -> Lines:
        """The unit's own additions for one account or one thread."""
        lines: Lines = {}
        for user, thread, key, figures in self.added:
            if user_id in (None, user) and conversation_id in (None, thread):
                add_line(lines, key, figures)
        return lines


class UsageIndex:
    """Each live thread's share of the ledger (from its summary, counted at start-up) and, for
    the accounts last asked about, their archive's lines. Guarded by one lock: reads copy,
    commits apply under it.

    An archive is read on its account's first need, not at start-up (2,000 archives of a
    school year were 7.8 s of start-up and 60 MB), and kept in an LRU of `cached_accounts`.
    A bad line fails that account's read (DataFileCorrupt naming the file), never served.
    """

    def __init__(self, folder: Path, *, cached_accounts: int = 256) -> None:
        self.folder = folder / "usage"
        self._guard = threading.Lock()
        self._cached_accounts = cached_accounts
        self._archived: OrderedDict[str, Mapping[Key, UsageTotals]] = OrderedDict()  # user: archive, LRU
        self._generation = 0  # moves each time an archive file may have changed
        # (owner, thread): what it spent; keyed by owner too, so each account sums only its own.
        self._by_thread: dict[tuple[str, str], Mapping[Key, UsageTotals]] = {}
        self._threads_of: dict[str, set[str]] = {}
        self._archives: dict[str, RecordFile] = {}

    # -- start-up ------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every count (start-up counts again after finishing journals)."""
        with self._guard:
            self._by_thread, self._threads_of, self._archives = {}, {}, {}
            self._archived.clear()
            self._generation += 1

    def count_thread(self, user_id: str, conversation_id: str, lines: Mapping[Key, UsageTotals]) -> None:
        """Start-up: count what a live thread spent, as its stored summary says (the summary's own
        mapping is kept, not copied: summaries are never changed, only replaced)."""
        if lines:
            with self._guard:
                self._set_thread(user_id, conversation_id, lines)

    def forget_archives(self) -> None:
        """Archive files were written outside a unit (a restore, a finished journal): read them again."""
        with self._guard:
            self._archived.clear()
            self._generation += 1

    # -- reads ---------------------------------------------------------------------------
    def user_lines(self, user_id: str, *, keep: bool = True) -> Lines:
        """The account's lines: its archive's plus its live threads'. `keep=False` (a read of
        every account) leaves the LRU of archives as it was, for the accounts in use."""
        return self._read(user_id, self._user_lines, keep=keep)

    def user_total(self, user_id: str, first_day: str, last_day: str) -> UsageTotals | None:
        """What the account spent from `first_day` to `last_day`, None if nothing (a global view:
        the LRU is left as it was)."""
        return self._read(
            user_id, lambda user, archived: self._total(user, archived, first_day, last_day), keep=False
        )

    def thread_lines(self, user_id: str, conversation_id: str) -> Lines:
        """A copy of what a live thread spent."""
        with self._guard:
            return dict(self._by_thread.get((user_id, conversation_id), {}))

    def owners(self) -> list[str]:
        """Every account that has spent something: an archive file or a live thread that spent."""
        with self._guard:
            with_threads = set(self._threads_of)
        return sorted(with_threads.union(owners_on_disk(self.folder)))

    def total_tokens(self, user_ids: Collection[str]) -> dict[str, int]:
        """All-time tokens of each account asked for."""
        return {
            user_id: sum(figures.total_tokens for figures in self.user_lines(user_id).values())
            for user_id in user_ids
        }

    # -- changes -------------------------------------------------------------------------
    def archive(self, user_id: str) -> RecordFile:
        """The account's archive file, where deleted threads' lines go (under the owner's lock)."""
        with self._guard:
            table = self._archives.get(user_id)
            if table is None:
                table = self._archives[user_id] = RecordFile(self.folder / f"{user_id}.json", "usage")
            return table

    def apply(self, changes: LedgerChanges) -> None:
        """A unit committed: its answers count, its dropped threads and forgotten accounts go."""
        with self._guard:
            for user_id, conversation_id, key, figures in changes.added:
                # "": a call no thread keeps (an automatic title), already in the archive file.
                if user_id in changes.forgotten_users or not conversation_id:
                    continue
                if (user_id, conversation_id) not in changes.dropped_threads:
                    lines = dict(
                        self._by_thread.get((user_id, conversation_id), {})
                    )  # copied: may be a summary's
                    add_line(lines, key, figures)
                    self._set_thread(user_id, conversation_id, lines)
            for user_id, conversation_id in changes.dropped_threads:
                self._drop_thread(user_id, conversation_id)
            for user_id in changes.forgotten_users:
                self._archives.pop(user_id, None)
                for conversation_id in list(self._threads_of.get(user_id, ())):
                    self._drop_thread(user_id, conversation_id)
            # The files changed: read again on next need rather than patched here.
            for user_id in changes.archived_users | changes.forgotten_users:
                self._archived.pop(user_id, None)
            if changes.archived_users or changes.forgotten_users:
                self._generation += 1

    def abandoned(self, user_ids: Iterable[str]) -> None:
        """A unit that staged archive writes was rolled back: re-read those files when next used."""
        with self._guard:
            for user_id in user_ids:
                self._archives.pop(user_id, None)
                self._archived.pop(user_id, None)
            self._generation += 1

    # -- inside ----------------------------------------------------------------------------
    def _read(
        self, user_id: str, under_guard: Callable[[str, Mapping[Key, UsageTotals]], _T], *, keep: bool = True
    ) -> _T:
        """`under_guard(user_id, archive lines)` with the archive read outside the lock, so a
        global view reading 2,000 files never holds up a commit; read again if a commit
        changed archives meanwhile, so thread and archive lines are one consistent view."""
        while True:
            with self._guard:
                found = self._archived.get(user_id)
                if found is not None:
                    self._archived.move_to_end(user_id)
                    return under_guard(user_id, found)
                generation = self._generation
            lines = read_archive(self.folder / f"{user_id}.json")
            with self._guard:
                if generation == self._generation and not keep:
                    return under_guard(user_id, lines)
                if generation == self._generation:
                    self._archived[user_id] = lines
                    while len(self._archived) > self._cached_accounts:
                        self._archived.popitem(last=False)
                    return under_guard(user_id, lines)

    def _user_lines(self, user_id: str, archived: Mapping[Key, UsageTotals]) -> Lines:
        lines = dict(archived.items())  # items(): a packed archive's own fast iteration
        for conversation_id in self._threads_of.get(user_id, ()):
            for key, figures in self._by_thread[(user_id, conversation_id)].items():
                found = lines.get(key)
                lines[key] = figures if found is None else found.plus(figures)
        return lines

    def _total(
        self, user_id: str, archived: Mapping[Key, UsageTotals], first_day: str, last_day: str
    ) -> UsageTotals | None:
        sums, costs, found = [0, 0, 0, 0], list[float](), False
        threads = (self._by_thread[(user_id, thread)] for thread in self._threads_of.get(user_id, ()))
        for part in (archived, *threads):
            if isinstance(part, PackedLines):
                found = part.add_between(first_day, last_day, sums, costs) or found
                continue
            for (day, _), figures in part.items():  # a thread an answer changed since start-up
                if first_day <= day <= last_day:
                    found = True
                    sums[0] += figures.messages
                    sums[1] += figures.prompt_tokens
                    sums[2] += figures.completion_tokens
                    sums[3] += figures.total_tokens
                    if figures.cost is not None:
                        costs.append(figures.cost)
        # One sum of the costs, as UsageTotals.plus adds them: None until some line reported one.
        messages, prompt, completion, total = sums
        return (
            UsageTotals(messages, prompt, completion, total, sum(costs) if costs else None) if found else None
        )

    def _set_thread(self, user_id: str, conversation_id: str, lines: Mapping[Key, UsageTotals]) -> None:
        self._by_thread[(user_id, conversation_id)] = lines
        self._threads_of.setdefault(user_id, set()).add(conversation_id)

    def _drop_thread(self, user_id: str, conversation_id: str) -> None:
        self._by_thread.pop((user_id, conversation_id), None)
        threads = self._threads_of.get(user_id)
        if threads is not None:
            threads.discard(conversation_id)
            if not threads:
                del self._threads_of[user_id]


def owners_on_disk(folder: Path) -> list[str]:
    """The accounts that have an archive file."""
    return sorted(path.stem for path in folder.glob("*.json") if is_valid_id("usr", path.stem))
