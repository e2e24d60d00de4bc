"""One ledger line's rules: its figures from an answer, its checks, and an archive file's lines."""

from __future__ import annotations

import functools
import sys
from collections.abc import Mapping
from datetime import date
from typing import Any

from ..completion import Usage
from ..records import UsageRecord
from .base import UsageTotals
from .record_file import RecordFile

__all__ = [
    "Key",
    "Lines",
    "add_line",
    "answer_figures",
    "as_records",
    "is_day",
    "line_problem",
    "usage_figures",
    "usage_problem",
    "write_lines",
]

Key = tuple[str, str]  # (day, model)
Lines = dict[Key, UsageTotals]
_COUNTS = ("messages", "prompt_tokens", "completion_tokens", "total_tokens")
_MAX_COUNT = 10**15


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
    """Why `line` is not a well-formed ledger line (dumps), or None."""
    if not isinstance(line.get("user_id"), str):
        return "has no valid 'user_id'"
    return line_problem(line)


def line_problem(line: Mapping[str, Any]) -> str | None:
    """Why `line`'s day, model and figures are not a ledger line's (an archive's, a summary's), or None."""
    if _is_well_formed(line):  # the usual case, checked in one expression (start-up reads 360,000)
        return None
    day, model, cost = line.get("day"), line.get("model"), line.get("cost")
    if not is_day(day):
        return "has no valid 'day' (YYYY-MM-DD)"
    if not isinstance(model, str) or not 0 < len(model) <= 200:
        return "has no valid 'model'"
    for name in _COUNTS:
        value = line.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < _MAX_COUNT:
            return f"has no valid {name!r}"
    if cost is not None and (
        isinstance(cost, bool) or not isinstance(cost, int | float) or not 0 <= cost < 10**12
    ):
        return "has no valid 'cost'"
    return None  # well formed, in types the fast check does not expect (str or int subclasses)


def _is_well_formed(line: Mapping[str, Any]) -> bool:
    get = line.get
    model, cost = get("model"), get("cost")
    messages, prompt, completion, total = (
        get("messages"),
        get("prompt_tokens"),
        get("completion_tokens"),
        get("total_tokens"),
    )
    return (  # unrolled: a generator per line cost a third of reading an archive
        is_day(get("day"))
        and type(model) is str
        and 0 < len(model) <= 200
        and type(messages) is int
        and type(prompt) is int
        and type(completion) is int
        and type(total) is int
        and 0 <= messages < _MAX_COUNT
        and 0 <= prompt < _MAX_COUNT
        and 0 <= completion < _MAX_COUNT
        and 0 <= total < _MAX_COUNT
        and (cost is None or (type(cost) in (int, float) and 0 <= cost < 10**12))
    )


def is_day(value: object) -> bool:
    """Whether `value` is a day written YYYY-MM-DD."""
    return isinstance(value, str) and len(value) == 10 and _is_iso_day(value)


@functools.lru_cache(maxsize=4096)  # a ledger repeats the same few hundred days
def _is_iso_day(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def add_line(lines: Lines, key: Key, figures: UsageTotals) -> None:
    """`figures` added to `lines` at `key`."""
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
        "cost": reported_cost(figures.cost),
    }


# Decimal places a ledger's cost is given with. A day's cost is a float sum whose last digits
# depend on the order its parts were added (a thread's answers, then the archive of deleted
# threads): rounded, a dump restored and dumped again gives the same figures.
COST_DECIMALS = 12


def reported_cost(cost: float | None) -> float | None:
    """A summed cost as the ledger reports it (None stays None: no answer reported a cost)."""
    return None if cost is None else round(cost, COST_DECIMALS)
