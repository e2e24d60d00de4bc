"""The TinyDB usage ledger: `usage/<user_id>.json`, one line per UTC day and model, staged with the turn."""

from __future__ import annotations

import threading
from collections.abc import Collection
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..completion import Usage
from ..errors import DataFileCorrupt
from ..records import UsageRecord, is_valid_id
from .base import UsageLedger, UsageTotals
from .record_file import RecordFile
from .record_layout import read_records

if TYPE_CHECKING:
    from .tinydb_units import TinyUnitOfWork

__all__ = ["TinyUsageLedger", "UsageFiles", "usage_problem"]

_COUNTS = ("messages", "prompt_tokens", "completion_tokens", "total_tokens")


class UsageFiles:
    """One small file per account that has spent tokens, changed under that account's lock.

    A turn rewrites its account's file in the same file transaction as its thread, so the
    ledger and the messages commit together (or neither does).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder / "usage"
        self._tables: dict[str, RecordFile] = {}
        self._guard = threading.Lock()

    def table(self, user_id: str) -> RecordFile:
        """The account's ledger file (it appears on first write)."""
        with self._guard:
            table = self._tables.get(user_id)
            if table is None:
                # Not kept decoded: an account's file is read for a report, rarely; memory stays
                # about the bytes of the files (a year of lines is ~50 KB), not ten times that.
                table = RecordFile(self.folder / f"{user_id}.json", "usage")
                self._tables[user_id] = table
            return table

    def owners(self) -> list[str]:
        """Every account that has a ledger file."""
        return sorted(path.stem for path in self.folder.glob("*.json") if is_valid_id("usr", path.stem))

    def forget(self, user_id: str) -> None:
        """Drop a deleted account's cached file."""
        with self._guard:
            self._tables.pop(user_id, None)

    def check(self) -> None:
        """Start-up check: every ledger file parses and holds well-formed lines; writes nothing."""
        for path in sorted(self.folder.glob("*.json")):
            for doc in read_records(path, "usage"):
                problem = usage_problem({**doc, "user_id": path.stem})
                if problem is not None:
                    raise DataFileCorrupt(path, f"usage line {doc.get('id')!r} {problem}")


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


def _is_day(value: object) -> bool:
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


class TinyUsageLedger(UsageLedger):
    """Ledger files read and changed under their owner's lock, taken for the rest of the unit."""

    def __init__(self, unit: TinyUnitOfWork) -> None:
        self._unit = unit
        self._files = unit.usage_files

    def _table(self, user_id: str) -> RecordFile:
        self._unit.lock_user(user_id)
        return self._files.table(user_id)

    def record(self, user_id: str, day: str, model: str, usage: Usage | None) -> None:
        table = self._table(user_id)
        line_id = f"{day} {model}"
        found = table.get(line_id)
        line = _line(user_id, found) if found is not None else _empty_line(user_id, day, model)
        total = UsageTotals.of(line).plus(_answer(usage))
        changes = {
            "day": day,
            "model": model,
            "messages": total.messages,
            "prompt_tokens": total.prompt_tokens,
            "completion_tokens": total.completion_tokens,
            "total_tokens": total.total_tokens,
            "cost": total.cost,
        }
        if found is None:
            table.insert([{"id": line_id, **changes}])
        else:
            table.update(line_id, changes)

    def lines(self, user_id: str, first_day: str, last_day: str) -> list[UsageRecord]:
        found = [_line(user_id, doc) for doc in self._table(user_id).records()]
        chosen = [line for line in found if first_day <= line["day"] <= last_day]
        return sorted(chosen, key=lambda line: (line["day"], line["model"]))

    def totals(self, first_day: str, last_day: str) -> dict[str, UsageTotals]:
        sums: dict[str, UsageTotals] = {}
        # Sorted: a unit taking several owners' locks takes them in one order, so two cannot deadlock.
        for user_id in self._files.owners():
            counts = [0, 0, 0, 0]
            cost: float | None = None
            seen = False
            for doc in self._table(user_id).records():
                if first_day <= doc["day"] <= last_day:
                    seen = True
                    for index, name in enumerate(_COUNTS):
                        counts[index] += doc[name]
                    if doc["cost"] is not None:
                        cost = (cost or 0.0) + doc["cost"]
            if seen:
                sums[user_id] = UsageTotals(counts[0], counts[1], counts[2], counts[3], cost)
        return sums

    def total_tokens(self, user_ids: Collection[str]) -> dict[str, int]:
        having = set(self._files.owners())
        tokens = dict.fromkeys(user_ids, 0)
        for user_id in sorted(having.intersection(tokens)):
            tokens[user_id] = sum(doc["total_tokens"] for doc in self._table(user_id).records())
        return tokens

    def forget(self, user_id: str) -> None:
        """Delete the account's ledger file with the unit (account deletion)."""
        table = self._table(user_id)
        if not table.is_loaded() and not table.path.exists():
            return  # nothing spent, nothing to delete
        table.truncate()
        self._unit.transaction.delete(table.path)


def _answer(usage: Usage | None) -> UsageTotals:
    if usage is None:
        return UsageTotals(messages=1)
    return UsageTotals(1, usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, usage.cost)


def _empty_line(user_id: str, day: str, model: str) -> UsageRecord:
    return {
        "user_id": user_id,
        "day": day,
        "model": model,
        "messages": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "total_tokens": 0,
        "cost": None,
    }


def _line(user_id: str, doc: dict[str, Any]) -> UsageRecord:
    # The file names its owner; the lines do not repeat it.
    return {"user_id": user_id, **{key: value for key, value in doc.items() if key != "id"}}  # type: ignore[typeddict-item]
