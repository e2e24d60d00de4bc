"""The TinyDB usage ledger: each live thread's share in its stored summary, plus an archive of deleted threads.

An answer's history line carries its model, day and usage, and the thread's `summary` in its
owner's conversations file (`summaries.py`) sums them per day and model, written in the same
commit. The counts live in memory, read at start-up from those summaries; what a thread spent
moves into its owner's `usage/<user_id>.json` when the thread or its messages are deleted, in
the same file transaction, so spending outlives the thread.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Collection, Iterable
from datetime import date
from pathlib import Path
from typing import Any

from ..completion import Usage
from ..errors import DataFileCorrupt
from ..records import UsageRecord, is_valid_id
from .base import UsageTotals
from .record_file import RecordFile
from .record_layout import read_records

__all__ = [
    "LedgerChanges",
    "Lines",
    "UsageIndex",
    "answer_figures",
    "as_records",
    "owners_on_disk",
    "usage_figures",
    "usage_problem",
    "write_lines",
]

Key = tuple[str, str]  # (day, model)
Lines = dict[Key, UsageTotals]
_COUNTS = ("messages", "prompt_tokens", "completion_tokens", "total_tokens")


class LedgerChanges:
    """What one unit of work did to the ledger, applied to the index once it commits."""

    def __init__(self) -> None:
        self.added: list[tuple[str, str, Key, UsageTotals]] = []  # user, thread, line, figures
        self.dropped_threads: set[str] = set()
        self.forgotten_users: set[str] = set()

    def pending(self, *, user_id: str | None = None, conversation_id: str | None = None) -> Lines:
        """The unit's own additions for one account or one thread."""
        lines: Lines = {}
        for user, thread, key, figures in self.added:
            if user_id in (None, user) and conversation_id in (None, thread):
                _add(lines, key, figures)
        return lines


class UsageIndex:
    """Every account's ledger lines, and each live thread's share of them (moved to the archive
    when the thread goes). Guarded by one lock: reads copy, commits apply under it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder / "usage"
        self._guard = threading.Lock()
        self._by_user: dict[str, Lines] = {}
        self._by_thread: dict[str, Lines] = {}
        self._owner: dict[str, str] = {}
        self._archives: dict[str, RecordFile] = {}

    # -- start-up ------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every count (start-up counts again after finishing journals)."""
        with self._guard:
            self._by_user, self._by_thread, self._owner, self._archives = {}, {}, {}, {}

    def count_stored(self, user_id: str, conversation_id: str, message: dict[str, Any]) -> None:
        """Start-up: count one stored message if it is an answer that carries its model."""
        figures = answer_figures(message)
        if figures is not None:
            key = (message["created_at"][:10], message["model"])
            with self._guard:
                self._owner[conversation_id] = user_id
                _add(self._by_thread.setdefault(conversation_id, {}), key, figures)
                _add(self._by_user.setdefault(user_id, {}), key, figures)

    def count_thread(self, user_id: str, conversation_id: str, lines: Lines) -> None:
        """Start-up: count what a live thread spent, as its stored summary says."""
        if not lines:
            return
        with self._guard:
            self._owner[conversation_id] = user_id
            self._by_thread[conversation_id] = dict(lines)  # its keys and figures shared, not copied
            for key, figures in lines.items():
                _add(self._by_user.setdefault(user_id, {}), key, figures)

    def load_archives(self) -> None:
        """Start-up: check every archive file and count its lines; DataFileCorrupt names a bad one."""
        for path in sorted(self.folder.glob("*.json")):
            for doc in read_records(path, "usage"):
                problem = usage_problem({**doc, "user_id": path.stem})
                if problem is not None:
                    raise DataFileCorrupt(path, f"usage line {doc.get('id')!r} {problem}")
                with self._guard:
                    _add(self._by_user.setdefault(path.stem, {}), (doc["day"], doc["model"]), _figures(doc))

    # -- reads ---------------------------------------------------------------------------
    def user_lines(self, user_id: str) -> Lines:
        """A copy of the account's lines."""
        with self._guard:
            return dict(self._by_user.get(user_id, {}))

    def thread_lines(self, conversation_id: str) -> Lines:
        """A copy of what a live thread spent."""
        with self._guard:
            return dict(self._by_thread.get(conversation_id, {}))

    def all_lines(self) -> dict[str, Lines]:
        """A copy of every account's lines."""
        with self._guard:
            return {user_id: dict(lines) for user_id, lines in self._by_user.items()}

    def owners(self) -> list[str]:
        """Every account that has spent something."""
        with self._guard:
            return list(self._by_user)

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
                if user_id in changes.forgotten_users:
                    continue
                _add(self._by_user.setdefault(user_id, {}), key, figures)
                # "": a call no thread keeps (an automatic title), already in the archive.
                if conversation_id and conversation_id not in changes.dropped_threads:
                    self._owner[conversation_id] = user_id
                    _add(self._by_thread.setdefault(conversation_id, {}), key, figures)
            for conversation_id in changes.dropped_threads:
                self._by_thread.pop(conversation_id, None)
                self._owner.pop(conversation_id, None)
            for user_id in changes.forgotten_users:
                self._by_user.pop(user_id, None)
                self._archives.pop(user_id, None)
                for conversation_id in [thread for thread, owner in self._owner.items() if owner == user_id]:
                    self._by_thread.pop(conversation_id, None)
                    self._owner.pop(conversation_id, None)

    def abandoned(self, user_ids: Iterable[str]) -> None:
        """A unit that staged archive writes was rolled back: re-read those files when next used."""
        with self._guard:
            for user_id in user_ids:
                self._archives.pop(user_id, None)

    def total_tokens(self, user_ids: Collection[str]) -> dict[str, int]:
        """All-time tokens of each account asked for."""
        with self._guard:
            return {
                user_id: sum(figures.total_tokens for figures in self._by_user.get(user_id, {}).values())
                for user_id in user_ids
            }


def answer_figures(message: dict[str, Any]) -> UsageTotals | None:
    """What a stored answer adds to the ledger, or None for a user message or an answer from
    before the ledger (no model)."""
    if message.get("role") != "assistant" or not isinstance(message.get("model"), str):
        return None
    usage = message.get("usage")
    if not isinstance(usage, dict):
        return UsageTotals(messages=1)
    return UsageTotals(
        1, usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"], usage["cost"]
    )


def usage_figures(usage: Usage | None) -> UsageTotals:
    """What one answer with this usage adds."""
    if usage is None:
        return UsageTotals(messages=1)
    return UsageTotals(1, usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, usage.cost)


def as_records(user_id: str, lines: Lines) -> list[UsageRecord]:
    """Lines as ledger records, by day then model."""
    return [_record(user_id, key, figures) for key, figures in sorted(lines.items())]


def write_lines(table: RecordFile, lines: Lines) -> None:
    """Add `lines` to the archive lines `table` holds (staged in the active transaction)."""
    for key, figures in lines.items():
        line_id = f"{key[0]} {key[1]}"
        found = table.get(line_id)
        total = figures if found is None else _figures(found).plus(figures)
        fields = {k: v for k, v in _record("", key, total).items() if k != "user_id"}
        if found is None:
            table.insert([{"id": line_id, **fields}])
        else:
            table.update(line_id, fields)


def usage_problem(line: dict[str, Any]) -> str | None:
    """Why `line` is not a well-formed ledger line (dumps and start-up), or None."""
    day, model, cost = line.get("day"), line.get("model"), line.get("cost")
    if not isinstance(line.get("user_id"), str):
        return "has no valid 'user_id'"
    if not _is_day(day):
        return "has no valid 'day' (YYYY-MM-DD)"
    if not isinstance(model, str) or not 0 < len(model) <= 200:
        return "has no valid 'model'"
    for name in _COUNTS:
        value = line.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 10**15:
            return f"has no valid {name!r}"
    if cost is not None and (
        isinstance(cost, bool) or not isinstance(cost, int | float) or not 0 <= cost < 10**12
    ):
        return "has no valid 'cost'"
    return None


def owners_on_disk(folder: Path) -> list[str]:
    """The accounts that have an archive file."""
    return sorted(path.stem for path in folder.glob("*.json") if is_valid_id("usr", path.stem))


def _is_day(value: object) -> bool:
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _add(lines: Lines, key: Key, figures: UsageTotals) -> None:
    # Interned: every account repeats the same days and model names; one string each in memory.
    key = (sys.intern(key[0]), sys.intern(key[1]))
    found = lines.get(key)
    lines[key] = figures if found is None else found.plus(figures)


def _figures(doc: dict[str, Any]) -> UsageTotals:
    return UsageTotals(
        doc["messages"], doc["prompt_tokens"], doc["completion_tokens"], doc["total_tokens"], doc["cost"]
    )


def _record(user_id: str, key: Key, figures: UsageTotals) -> UsageRecord:
    return {
        "user_id": user_id,
        "day": key[0],
        "model": key[1],
        "messages": figures.messages,
        "prompt_tokens": figures.prompt_tokens,
        "completion_tokens": figures.completion_tokens,
        "total_tokens": figures.total_tokens,
        "cost": figures.cost,
    }
