"""Usage reports: read from the usage ledger, never by scanning messages."""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..errors import InvalidChoice, NotFoundError
from ..storage import Database
from ..storage.base import UsageTotals

__all__ = ["DEFAULT_DAYS", "account_report", "accounts_csv", "all_accounts", "day_range", "total_tokens"]

DEFAULT_DAYS = 30
_CSV_COLUMNS = (
    *("user_id", "email", "name", "messages"),
    *("prompt_tokens", "completion_tokens", "total_tokens", "cost"),
)
# A cell starting with one of these is a formula to a spreadsheet (CSV injection): a name such as
# `=HYPERLINK(...)` must open as text on the teacher's machine.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def day_range(first: date | None, last: date | None, *, today: date | None = None) -> tuple[str, str]:
    """The UTC days asked for, as YYYY-MM-DD; by default the last 30 (today included)."""
    today = today or datetime.now(UTC).date()
    last = last or (today if first is None else max(first, today))
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise InvalidChoice("'from' must not be after 'to'.", ("query", "from"))
    return first.isoformat(), last.isoformat()


def account_report(database: Database, user_id: str, first_day: str, last_day: str) -> dict[str, Any]:
    """`{total, by_day, by_model}` of one account; NotFoundError if there is no such account."""
    with database.unit_of_work(user_id, write=False) as unit:
        if unit.accounts.get(user_id) is None:
            raise NotFoundError("User not found.")
        lines = unit.usage.lines(user_id, first_day, last_day)
    total = UsageTotals()
    by_day: dict[str, UsageTotals] = {}
    by_model: dict[str, UsageTotals] = {}
    for line in lines:
        figures = UsageTotals.of(line)
        total = total.plus(figures)
        by_day[line["day"]] = by_day.get(line["day"], UsageTotals()).plus(figures)
        by_model[line["model"]] = by_model.get(line["model"], UsageTotals()).plus(figures)
    return {
        "total": asdict(total),
        "by_day": [{"date": day, **asdict(figures)} for day, figures in sorted(by_day.items())],
        "by_model": [
            {"model": model, **asdict(figures)}
            for model, figures in sorted(by_model.items(), key=lambda pair: (-pair[1].total_tokens, pair[0]))
        ],
    }


def all_accounts(database: Database, first_day: str, last_day: str) -> list[dict[str, Any]]:
    """Every account (oldest first) with its totals over those days; zeros for those that spent nothing."""
    with database.unit_of_work(write=False) as unit:
        accounts = unit.accounts.all()
        sums = unit.usage.totals(first_day, last_day)
    return [
        {
            "user_id": account["id"],
            "email": account["email"],
            "name": account["name"],
            **asdict(sums.get(account["id"], UsageTotals())),
        }
        for account in accounts
    ]


def accounts_csv(items: list[dict[str, Any]]) -> str:
    """The administrators' report as CSV, one account per row, for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_CSV_COLUMNS)
    for item in items:
        writer.writerow([_cell(item[column]) for column in _CSV_COLUMNS])
    return out.getvalue()


def total_tokens(database: Database, user_ids: Collection[str]) -> dict[str, int]:
    """All-time tokens of many accounts in one read (the administrators' account list)."""
    with database.unit_of_work(write=False) as unit:
        return unit.usage.total_tokens(user_ids)


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
