"""The SQL usage ledger: `usage_days`, one row per account, UTC day and model, upserted per turn."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite

from ...completion import Usage
from ...records import UsageRecord
from ..base import UsageLedger, UsageTotals
from .schema import usage_days

__all__ = ["SQLUsageLedger"]

_LINE = tuple(usage_days.c)
_KEY = ["user_id", "day", "model"]
_COUNTS = ("messages", "prompt_tokens", "completion_tokens", "total_tokens")


class SQLUsageLedger(UsageLedger):
    """Every change is one INSERT … ON CONFLICT DO UPDATE: parallel turns of one account, in any
    process, each add their figures to the same row without losing one."""

    def __init__(self, db: Connection) -> None:
        self._db = db

    def record(self, user_id: str, conversation_id: str, day: str, model: str, usage: Usage | None) -> None:
        self._add(user_id, day, model, usage, messages=1)

    def _add(self, user_id: str, day: str, model: str, usage: Usage | None, *, messages: int) -> None:
        row: dict[str, Any] = {
            "user_id": user_id,
            "day": day,
            "model": model,
            "messages": messages,
            "prompt_tokens": usage.prompt_tokens if usage else 0,
            "completion_tokens": usage.completion_tokens if usage else 0,
            "total_tokens": usage.total_tokens if usage else 0,
            "cost": usage.cost if usage else None,
        }
        self._db.execute(_UPSERTS[self._db.dialect.name], row)

    def record_unstored(self, user_id: str, day: str, model: str, usage: Usage | None) -> None:
        self._add(user_id, day, model, usage, messages=0)  # its tokens count; it is no message

    def lines(self, user_id: str, first_day: str, last_day: str) -> list[UsageRecord]:
        rows = self._db.execute(
            select(*_LINE)
            .where(usage_days.c.user_id == user_id, usage_days.c.day.between(first_day, last_day))
            .order_by(usage_days.c.day, usage_days.c.model)
        )
        return [row._asdict() for row in rows]  # type: ignore[misc]

    def totals(self, first_day: str, last_day: str) -> dict[str, UsageTotals]:
        sums = [func.sum(usage_days.c[name]) for name in (*_COUNTS, "cost")]
        rows = self._db.execute(
            select(usage_days.c.user_id, *sums)
            .where(usage_days.c.day.between(first_day, last_day))
            .group_by(usage_days.c.user_id)
        )
        return {
            row[0]: UsageTotals(int(row[1]), int(row[2]), int(row[3]), int(row[4]), _cost(row[5]))
            for row in rows
        }

    def total_tokens(self, user_ids: Collection[str]) -> dict[str, int]:
        tokens = dict.fromkeys(user_ids, 0)
        if not tokens:
            return tokens
        rows = self._db.execute(
            select(usage_days.c.user_id, func.sum(usage_days.c.total_tokens))
            .where(usage_days.c.user_id.in_(list(tokens)))
            .group_by(usage_days.c.user_id)
        )
        tokens.update((user_id, int(total)) for user_id, total in rows)
        return tokens


def _upsert(dialect: Any) -> Any:
    # Built once per dialect, so SQLAlchemy compiles it once: a turn only binds its values.
    statement = dialect.insert(usage_days)
    added, current = statement.excluded, usage_days.c
    changes: dict[str, Any] = {name: current[name] + added[name] for name in _COUNTS}
    changes["cost"] = func.coalesce(current.cost + added.cost, current.cost, added.cost)
    return statement.on_conflict_do_update(index_elements=_KEY, set_=changes)


_UPSERTS = {"postgresql": _upsert(postgresql), "sqlite": _upsert(sqlite)}


def _cost(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
