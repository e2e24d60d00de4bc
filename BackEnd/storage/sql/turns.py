"""Replacing a thread's last turn in SQL (issue 10's regenerate and edit), in the caller's transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from ...errors import NothingToRegenerate
from ...organising import preview_of
from ...records import ConversationRecord, MessageRecord, stamp_after
from ..base import STALE_TURN
from . import search
from .schema import conversations, messages, search_entries, user_message_days, user_stats

__all__ = ["replace_turn"]
# What a replaced answer takes from its replacement; its id, place and created_at stay.
_ANSWER_FIELDS = ("content", "model", "finish_reason", "usage", "reply_to", "edited_at")


def replace_turn(
    db: Connection,
    conversation: ConversationRecord,
    question: MessageRecord,
    replaced: Sequence[str],
    answers: list[MessageRecord],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Apply `Threads.replace_last_turn` to a thread locked by the caller.

    Returns the conversation's changed fields and the messages added (for the account's stats).
    """
    thread = messages.c.conversation_id == conversation["id"]
    tail = db.execute(
        select(messages.c.id, messages.c.created_at)
        .where(thread)
        .order_by(messages.c.created_at.desc(), messages.c.seq.desc())
        .limit(len(replaced) + 1)
    ).all()
    if [row.id for row in reversed(tail)] != [question["id"], *replaced]:
        raise NothingToRegenerate(STALE_TURN)
    created = {row.id: row.created_at for row in tail}
    kept = [answer for answer in answers if answer["id"] in replaced]
    gone = [answer_id for answer_id in replaced if answer_id not in {answer["id"] for answer in kept}]
    fresh = [answer for answer in answers if answer["id"] not in replaced]
    last = conversation["updated_at"] if fresh else stamp_after(conversation["updated_at"])
    added: list[dict[str, Any]] = []
    for answer in fresh:  # stamped as `append` stamps: the thread's updated_at is the last one's
        last = stamp_after(last)
        added.append({**answer, "created_at": last})
    changed = [{**question, "created_at": created[question["id"]]}]
    changed += [{**answer, "created_at": created[answer["id"]]} for answer in kept]
    # Index rows go with their messages (a foreign key); the changed ones are indexed again.
    db.execute(delete(search_entries).where(search_entries.c.message_id.in_([m["id"] for m in changed])))
    if gone:
        _uncount(db, conversation["user_id"], [created[answer_id] for answer_id in gone])
        db.execute(delete(messages).where(thread, messages.c.id.in_(gone)))
    db.execute(
        update(messages)
        .where(thread, messages.c.id == question["id"])
        .values(content=question["content"], edited_at=question.get("edited_at"))
    )
    for answer in kept:
        db.execute(
            update(messages)
            .where(thread, messages.c.id == answer["id"])
            .values({field: answer.get(field) for field in _ANSWER_FIELDS})
        )
    if added:
        db.execute(insert(messages), added)
    search.add_messages(db, [*changed, *added])  # type: ignore[list-item]
    newest = (added or changed)[-1]
    changes = {
        "updated_at": last,
        "message_count": conversation["message_count"] + len(added) - len(gone),
        "preview": preview_of(newest["content"]),
    }
    db.execute(update(conversations).where(conversations.c.id == conversation["id"]).values(**changes))
    return changes, added


def _uncount(db: Connection, user_id: str, times: list[str]) -> None:
    # user_stats before user_message_days, in the order SQLStats.added locks them.
    db.execute(
        update(user_stats)
        .where(user_stats.c.user_id == user_id)
        .values(messages=user_stats.c.messages - len(times))
    )
    for day, count in Counter(moment[:10] for moment in times).items():
        db.execute(
            update(user_message_days)
            .where(user_message_days.c.user_id == user_id, user_message_days.c.day == day)
            .values(messages=user_message_days.c.messages - count)
        )
