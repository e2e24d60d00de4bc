"""Per-account figures on SQL: `user_stats` and `user_message_days`, kept by the thread changes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..base import AccountTotals, Stats, UserStats
from .schema import conversation_tags, conversations, messages, user_message_days, user_stats

__all__ = ["SQLStats"]

_IN_CLAUSE_CHUNK = 500
_DAY = func.substr(messages.c.created_at, 1, 10)


class SQLStats(Stats):
    """Reads a few indexed rows; `added` and `removing` keep them in the caller's transaction."""

    def __init__(self, db: Connection) -> None:
        self._db = db

    def of(self, user_id: str, *, since_day: str) -> UserStats:
        # Two round trips: every figure in one row (scalar subqueries over indexed rows), then the days.
        mine = conversations.c.user_id == user_id
        kept = user_stats.c.user_id == user_id
        row = self._db.execute(
            select(
                select(func.count()).where(mine).scalar_subquery().label("conversations"),
                select(_how_many(conversations.c.is_favorite))
                .where(mine)
                .scalar_subquery()
                .label("favorites"),
                select(_how_many(conversations.c.archived)).where(mine).scalar_subquery().label("archived"),
                select(func.count(func.distinct(conversations.c.folder)))
                .where(mine)
                .scalar_subquery()
                .label("folders"),
                select(func.count(func.distinct(conversation_tags.c.tag)))
                .where(conversation_tags.c.user_id == user_id)
                .scalar_subquery()
                .label("tags"),
                select(user_stats.c.messages).where(kept).scalar_subquery().label("messages"),
                select(user_stats.c.first_message_at).where(kept).scalar_subquery().label("first"),
                select(user_stats.c.last_message_at).where(kept).scalar_subquery().label("last"),
            )
        ).one()
        days = self._db.execute(
            select(user_message_days.c.day, user_message_days.c.messages).where(
                user_message_days.c.user_id == user_id, user_message_days.c.day >= since_day
            )
        )
        return UserStats(
            conversations=row.conversations,
            messages=row.messages or 0,
            favorites=int(row.favorites),
            archived=int(row.archived),
            folders=row.folders,
            tags=row.tags,
            first_message_at=row.first,
            last_message_at=row.last,
            by_day={day.day: day.messages for day in days if day.messages > 0},
        )

    def totals(self, user_ids: Sequence[str]) -> dict[str, AccountTotals]:
        threads: dict[str, int] = {}
        kept: dict[str, int] = {}
        for start in range(0, len(user_ids), _IN_CLAUSE_CHUNK):
            chunk = list(user_ids[start : start + _IN_CLAUSE_CHUNK])
            rows = self._db.execute(
                select(conversations.c.user_id, func.count())
                .where(conversations.c.user_id.in_(chunk))
                .group_by(conversations.c.user_id)
            )
            threads.update({row[0]: row[1] for row in rows})
            rows = self._db.execute(
                select(user_stats.c.user_id, user_stats.c.messages).where(user_stats.c.user_id.in_(chunk))
            )
            kept.update({row[0]: row[1] for row in rows})
        return {
            user_id: AccountTotals(conversations=threads.get(user_id, 0), messages=kept.get(user_id, 0))
            for user_id in user_ids
        }

    # -- kept by SQLThreads, in the same transaction as the change ---------------------------
    def added(self, user_id: str, stored: Iterable[Mapping[str, Any]]) -> None:
        """Count messages just stored."""
        times = [message["created_at"] for message in stored]
        if not times:
            return
        first, last = min(times), max(times)
        insert = self._insert(user_stats)
        upsert = insert.values(
            user_id=user_id, messages=len(times), first_message_at=first, last_message_at=last
        )
        current = user_stats.c
        self._db.execute(
            upsert.on_conflict_do_update(
                index_elements=[current.user_id],
                set_={
                    "messages": current.messages + upsert.excluded.messages,
                    "first_message_at": case(
                        ((current.first_message_at.is_(None)) | (current.first_message_at > first), first),
                        else_=current.first_message_at,
                    ),
                    "last_message_at": case(
                        ((current.last_message_at.is_(None)) | (current.last_message_at < last), last),
                        else_=current.last_message_at,
                    ),
                },
            )
        )
        per_day = Counter(moment[:10] for moment in times)
        insert = self._insert(user_message_days)
        rows = insert.values(
            [{"user_id": user_id, "day": day, "messages": n} for day, n in sorted(per_day.items())]
        )
        self._db.execute(
            rows.on_conflict_do_update(
                index_elements=[user_message_days.c.user_id, user_message_days.c.day],
                set_={"messages": user_message_days.c.messages + rows.excluded.messages},
            )
        )

    def removing(self, user_id: str, conversation_id: str) -> None:
        """Uncount a thread's messages; call it before they are deleted, then `settle`."""
        per_day = self._db.execute(
            select(_DAY.label("day"), func.count().label("n"))
            .where(messages.c.conversation_id == conversation_id)
            .group_by(_DAY)
        ).all()
        if not per_day:
            return
        # user_stats before user_message_days, in the order `added` locks them: a turn and a
        # deletion of the same account queue instead of deadlocking.
        removed = sum(row.n for row in per_day)
        self._db.execute(
            update(user_stats)
            .where(user_stats.c.user_id == user_id)
            .values(messages=user_stats.c.messages - removed)
        )
        for row in per_day:
            self._db.execute(
                update(user_message_days)
                .where(user_message_days.c.user_id == user_id, user_message_days.c.day == row.day)
                .values(messages=user_message_days.c.messages - row.n)
            )

    def settle(self, user_id: str) -> None:
        """After messages went: drop empty days, and read the first and last left (an index's two ends)."""
        self._db.execute(
            delete(user_message_days).where(
                user_message_days.c.user_id == user_id, user_message_days.c.messages <= 0
            )
        )
        mine = messages.c.user_id == user_id
        first = self._db.execute(select(func.min(messages.c.created_at)).where(mine)).scalar()
        last = self._db.execute(select(func.max(messages.c.created_at)).where(mine)).scalar()
        self._db.execute(
            update(user_stats)
            .where(user_stats.c.user_id == user_id)
            .values(first_message_at=first, last_message_at=last)
        )

    def forget(self, user_id: str) -> None:
        """Every message of the account went."""
        self._db.execute(delete(user_stats).where(user_stats.c.user_id == user_id))
        self._db.execute(delete(user_message_days).where(user_message_days.c.user_id == user_id))

    def _insert(self, table: Any) -> Any:
        dialect = postgresql if self._db.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)


def _how_many(flag: Any) -> Any:
    return func.coalesce(func.sum(case((flag, 1), else_=0)), 0)
