"""A thread's usage lines packed in arrays: what 20,000 summaries keep in memory, checked in bulk."""

from __future__ import annotations

import math
import operator
from array import array
from collections.abc import ItemsView, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import DataFileCorrupt
from .base import UsageTotals
from .record_layout import read_records
from .usage_lines import Key, is_day, line_problem

__all__ = ["PackedLines", "pack_lines", "read_archive"]

_FIELDS = ("day", "model", "messages", "prompt_tokens", "completion_tokens", "total_tokens", "cost")
_columns_of = operator.itemgetter(*_FIELDS)
_MAX_COUNT = 10**15
_MAX_COST = 10**12
# One tuple per (day, model) for every thread: a school year repeats about 400 of them.
_keys: dict[Key, Key] = {}


class PackedLines(Mapping[Key, UsageTotals]):
    """(day, model): figures, read-only, about 48 bytes a line instead of about 290 as a dict of
    `UsageTotals` (its ints, its key tuple, its entry): the summaries of a school year hold
    216,000 lines. A summary is replaced, never changed, so nothing here is ever written."""

    __slots__ = ("_costs", "_counts", "_keys")

    def __init__(self, keys: tuple[Key, ...], counts: array[int], costs: array[float]) -> None:
        self._keys = keys
        self._counts = counts  # 4 a line: messages, prompt, completion, total tokens
        self._costs = costs  # NaN: no cost reported (a valid cost is never NaN)

    def __getitem__(self, key: Key) -> UsageTotals:
        try:
            return self._figures(self._keys.index(key))
        except ValueError:
            raise KeyError(key) from None

    def __iter__(self) -> Iterator[Key]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def items(self) -> ItemsView[Key, UsageTotals]:
        return _PackedItems(self)

    def pairs(self) -> Iterator[tuple[Key, UsageTotals]]:
        """Each line in order, without searching for its key."""
        for position, key in enumerate(self._keys):
            yield key, self._figures(position)

    def add_between(self, first_day: str, last_day: str, sums: list[int], costs: list[float]) -> bool:
        """Add the lines of days `first_day` to `last_day` to `sums` (4 counts) and `costs` (the
        reported ones), without making an object a line (a global view sums 576,000 lines);
        whether there was one."""
        counts, found = self._counts, False
        for position, (day, _) in enumerate(self._keys):
            if first_day <= day <= last_day:
                found, start = True, 4 * position
                sums[0] += counts[start]
                sums[1] += counts[start + 1]
                sums[2] += counts[start + 2]
                sums[3] += counts[start + 3]
                if not math.isnan(cost := self._costs[position]):
                    costs.append(cost)
        return found

    def _figures(self, position: int) -> UsageTotals:
        messages, prompt, completion, total = self._counts[4 * position : 4 * position + 4]
        cost = self._costs[position]
        return UsageTotals(messages, prompt, completion, total, None if math.isnan(cost) else cost)


class _PackedItems(ItemsView[Key, UsageTotals]):
    _mapping: PackedLines

    def __iter__(self) -> Iterator[tuple[Key, UsageTotals]]:
        return self._mapping.pairs()


def read_archive(path: Path) -> PackedLines:
    """An account's archive lines, checked and packed (none without a file); DataFileCorrupt names a bad file."""
    packed = pack_lines(list(read_records(path, "usage")) if path.exists() else [])
    if isinstance(packed, str):
        raise DataFileCorrupt(path, packed)
    return packed


def pack_lines(lines: object) -> PackedLines | str:
    """A stored summary's `usage` list, packed, or why it is not a valid one.

    Checked a column at a time (C loops), not a line at a time: start-up reads every summary.
    A damaged list is then read again line by line, for the message that names the fault.
    """
    if not isinstance(lines, list):
        return "has no valid 'usage'"
    try:
        rows = [_columns_of(line) for line in lines]
    except (KeyError, TypeError):
        rows = []  # some line is not an object with every field: found below
    else:
        packed = _packed(rows) if rows else PackedLines((), array("q"), array("d"))
        if packed is not None:
            return packed
    for line in lines:
        problem = line_problem(line) if isinstance(line, dict) else "is not an object"
        missing = [name for name in _FIELDS if isinstance(line, dict) and name not in line]
        if problem is None and missing:
            problem = f"has no valid {missing[0]!r}"  # a stored line writes every field, cost too
        if problem is not None:
            return f"usage line {problem}"
    return "usage line repeats a day and model"


def _packed(rows: list[tuple[Any, ...]]) -> PackedLines | None:
    days, models, messages, prompt, completion, total, costs = zip(*rows, strict=True)
    if set(map(type, days)) != {str} or not all(map(is_day, set(days))):
        return None
    if set(map(type, models)) != {str} or not all(0 < len(model) <= 200 for model in set(models)):
        return None
    counts = [value for row in zip(messages, prompt, completion, total, strict=True) for value in row]
    if set(map(type, counts)) != {int} or min(counts) < 0 or max(counts) >= _MAX_COUNT:
        return None  # type() is int: a bool is no count
    if not set(map(type, costs)) <= {int, float, type(None)}:
        return None
    reported = [cost for cost in costs if cost is not None]
    if reported and not (
        min(reported) >= 0 and max(reported) < _MAX_COST and not any(map(math.isnan, reported))
    ):
        return None
    keys = tuple(
        _keys.setdefault((day, model), (day, model)) for day, model in zip(days, models, strict=True)
    )
    if len(set(keys)) != len(keys):
        return None
    return PackedLines(
        keys, array("q", counts), array("d", [math.nan if cost is None else cost for cost in costs])
    )
