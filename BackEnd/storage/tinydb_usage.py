"""The TinyDB unit of work's usage ledger: the index's counts, with this unit's own changes on top."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import TYPE_CHECKING

from ..completion import Usage
from ..records import UsageRecord
from .base import UsageLedger, UsageTotals
from .usage_files import LedgerChanges, Lines, as_records, usage_figures, write_lines

if TYPE_CHECKING:
    from .tinydb_units import TinyUnitOfWork

__all__ = ["TinyUsageLedger"]


class TinyUsageLedger(UsageLedger):
    """Counts are staged in `changes` and reach the shared index only if the unit commits; the
    answer itself, in its thread's file, is what makes the count survive a restart."""

    def __init__(self, unit: TinyUnitOfWork) -> None:
        self._unit = unit
        self._index = unit.usage_index
        self.changes = LedgerChanges()

    def record(self, user_id: str, conversation_id: str, day: str, model: str, usage: Usage | None) -> None:
        self._unit.lock_user(user_id)
        self.changes.added.append((user_id, conversation_id, (day, model), usage_figures(usage)))

    def record_unstored(self, user_id: str, day: str, model: str, usage: Usage | None) -> None:
        # No message will count it again at start-up: its line goes to the account's archive
        # file (the one deleted threads' lines go to), written with the unit.
        self._unit.lock_user(user_id)
        figures = dataclasses.replace(usage_figures(usage), messages=0)  # tokens, not a message
        write_lines(self._index.archive(user_id), {(day, model): figures})
        self.changes.archived_users.add(user_id)
        self.changes.added.append((user_id, "", (day, model), figures))

    def lines(self, user_id: str, first_day: str, last_day: str) -> list[UsageRecord]:
        lines = _merged(self._index.user_lines(user_id), self.changes.pending(user_id=user_id))
        return as_records(
            user_id, {key: value for key, value in lines.items() if first_day <= key[0] <= last_day}
        )

    def totals(self, first_day: str, last_day: str) -> dict[str, UsageTotals]:
        # One account at a time: what is in memory at once does not grow with the accounts.
        pending_users = {user for user, *_ in self.changes.added}
        sums: dict[str, UsageTotals] = {}
        for user_id in sorted(pending_users.union(self._index.owners())):
            if user_id not in pending_users:
                total = self._index.user_total(user_id, first_day, last_day)
            else:
                total = _total_between(
                    _merged(self._index.user_lines(user_id), self.changes.pending(user_id=user_id)),
                    first_day,
                    last_day,
                )
            if total is not None:
                sums[user_id] = total
        return sums

    def total_tokens(self, user_ids: Collection[str]) -> dict[str, int]:
        tokens = self._index.total_tokens(user_ids)
        for user_id, _, _, figures in self.changes.added:
            if user_id in tokens:
                tokens[user_id] += figures.total_tokens
        return tokens

    def thread_dropped(self, user_id: str, conversation_id: str) -> None:
        """A thread's messages are being deleted: what it spent moves to its owner's archive file."""
        lines = _merged(
            self._index.thread_lines(user_id, conversation_id),
            self.changes.pending(user_id=user_id, conversation_id=conversation_id),
        )
        if lines:
            write_lines(self._index.archive(user_id), lines)
            self.changes.archived_users.add(user_id)
        self.changes.dropped_threads.add((user_id, conversation_id))

    def forget(self, user_id: str) -> None:
        """The account is being deleted: its archive file goes with the unit, its counts at commit."""
        table = self._index.archive(user_id)
        if table.is_loaded() or table.path.exists():
            table.truncate()
            self._unit.transaction.delete(table.path)
        self.changes.forgotten_users.add(user_id)


def _merged(lines: Lines, more: Lines) -> Lines:
    merged = dict(lines)
    for key, figures in more.items():
        found = merged.get(key)
        merged[key] = figures if found is None else found.plus(figures)
    return merged


def _total_between(lines: Lines, first_day: str, last_day: str) -> UsageTotals | None:
    chosen = [figures for (day, _), figures in lines.items() if first_day <= day <= last_day]
    if not chosen:
        return None
    total = UsageTotals()
    for figures in chosen:
        total = total.plus(figures)
    return total
