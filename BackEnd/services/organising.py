"""Organising the caller's conversations: favourites, archive, folders, tags, fork and figures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..errors import LimitReached, NotFoundError
from ..organising import MAX_TAGS
from ..records import ConversationRecord, MessageRecord, conversation_record, new_id
from ..schemas import MAX_TITLE_CHARS
from ..storage import Database, UserStats
from ..storage.file_store import StoredFile
from .conversations import ThreadLimits
from .images import copy_images

__all__ = [
    "FORK_SUFFIX",
    "STATS_DAYS",
    "add_tag",
    "daily_counts",
    "fork_conversation",
    "folder_counts",
    "fork_title",
    "remove_from_folder",
    "remove_tag",
    "rename_folder",
    "tag_counts",
    "toggle_favorite",
    "update_conversation",
    "user_stats",
]

FORK_SUFFIX = " (copie)"
STATS_DAYS = 30
_NOT_FOUND = "Conversation not found."
_NO_FOLDER = "Folder not found."


def _found(conversation: ConversationRecord | None) -> ConversationRecord:
    if conversation is None:
        raise NotFoundError(_NOT_FOUND)
    return conversation


def update_conversation(
    database: Database, user_id: str, conversation_id: str, *, title: str | None, changes: dict[str, Any]
) -> ConversationRecord:
    """Rename (which stamps `updated_at`) and/or set organising fields (which do not), at once."""
    with database.unit_of_work(user_id) as unit:
        conversation = _found(unit.threads.get(user_id, conversation_id))
        if title is not None:
            conversation = _found(unit.threads.rename(user_id, conversation_id, title))
        if changes:
            conversation = _found(unit.threads.organise(user_id, conversation_id, changes))
    return conversation


def toggle_favorite(database: Database, user_id: str, conversation_id: str) -> bool:
    """Flip the favourite mark; whether it is now set."""
    with database.unit_of_work(user_id) as unit:
        conversation = _found(unit.threads.get(user_id, conversation_id))
        wanted = not conversation["is_favorite"]
        unit.threads.organise(user_id, conversation_id, {"is_favorite": wanted})
    return wanted


def add_tag(database: Database, user_id: str, conversation_id: str, tag: str) -> list[str]:
    """Add a (normalised) tag; a tag already there is no error. The tags now."""
    with database.unit_of_work(user_id) as unit:
        tags = _found(unit.threads.get(user_id, conversation_id))["tags"]
        if tag in tags:
            return tags
        if len(tags) >= MAX_TAGS:
            raise LimitReached(f"A conversation has at most {MAX_TAGS} tags; remove one first.")
        tags = sorted([*tags, tag])
        unit.threads.organise(user_id, conversation_id, {"tags": tags})
    return tags


def remove_tag(database: Database, user_id: str, conversation_id: str, tag: str) -> list[str]:
    """Remove a tag (compared once normalised); an absent one is no error. The tags now."""
    wanted = tag.strip().lower()
    with database.unit_of_work(user_id) as unit:
        tags = _found(unit.threads.get(user_id, conversation_id))["tags"]
        if wanted not in tags:
            return tags
        tags = [kept for kept in tags if kept != wanted]
        unit.threads.organise(user_id, conversation_id, {"tags": tags})
    return tags


def tag_counts(database: Database, user_id: str) -> list[tuple[str, int]]:
    """The caller's tags A→Z with how many threads carry each."""
    with database.unit_of_work(user_id, write=False) as unit:
        return sorted(unit.threads.tag_counts(user_id).items())


def folder_counts(database: Database, user_id: str) -> list[tuple[str, int]]:
    """The caller's folders A→Z with how many threads are in each."""
    with database.unit_of_work(user_id, write=False) as unit:
        return sorted(unit.threads.folder_counts(user_id).items())


def rename_folder(database: Database, user_id: str, folder: str, name: str) -> int:
    """Move every thread of `folder` into `name`; how many moved. NotFoundError for a folder the caller lacks."""
    return _move_folder(database, user_id, folder, name)


def remove_from_folder(database: Database, user_id: str, folder: str) -> int:
    """Take every thread out of `folder` (the threads stay); how many moved."""
    return _move_folder(database, user_id, folder, None)


def _move_folder(database: Database, user_id: str, folder: str, to: str | None) -> int:
    with database.unit_of_work(user_id) as unit:
        moved = unit.threads.move_folder(user_id, folder, to)
        if not moved:
            raise NotFoundError(_NO_FOLDER)
    return moved


def fork_title(title: str) -> str:
    """ "<title> (copie)", the title shortened so the whole stays a valid title."""
    return title[: MAX_TITLE_CHARS - len(FORK_SUFFIX)].rstrip() + FORK_SUFFIX


def fork_conversation(
    database: Database, user_id: str, conversation_id: str, *, message_id: str | None, limits: ThreadLimits
) -> ConversationRecord:
    """A new thread holding copies (new ids, same times) of the messages up to `message_id` (all by default)."""
    with database.unit_of_work(user_id) as unit:
        source = _found(unit.threads.get(user_id, conversation_id))
        history = unit.threads.messages(
            user_id, conversation_id, limit=limits.messages_per_conversation, offset=0
        )
        messages = history.items if history is not None else []
        if message_id is not None:
            ids = [message["id"] for message in messages]
            if message_id not in ids:
                raise NotFoundError("Message not found in this conversation.")
            messages = messages[: ids.index(message_id) + 1]
        limits.check_new_conversation(unit, user_id)
        fork = conversation_record(user_id, fork_title(source["title"]))
        unit.threads.add(fork)
        # New ids, each answer's reply_to pointing at the copy of its question, and the fork's
        # own copies of the stored images (issue 10).
        copied = {message["id"]: new_id("msg") for message in messages}
        copies: list[MessageRecord] = []
        files: list[StoredFile] = []
        for message in messages:
            copy_id = copied[message["id"]]
            images, copied_files = copy_images(
                unit.stored_files, user_id, fork["id"], copy_id, message.get("images")
            )
            reply_to = copied.get(message.get("reply_to") or "")
            copies.append(
                {
                    **message,
                    "id": copy_id,
                    "conversation_id": fork["id"],
                    "images": images,
                    "reply_to": reply_to,
                }
            )
            files += copied_files
        stored = _found(unit.threads.insert_dated(user_id, fork["id"], copies))
        for file in files:  # after their messages (the SQL foreign key)
            unit.stored_files.add(file)
        return stored


def daily_counts(stats: UserStats, today: date) -> list[tuple[str, int]]:
    """The last STATS_DAYS UTC days up to `today`, oldest first, days without messages at zero."""
    days = [(today - timedelta(days=back)).isoformat() for back in range(STATS_DAYS - 1, -1, -1)]
    return [(day, stats.by_day.get(day, 0)) for day in days]


def user_stats(database: Database, user_id: str) -> tuple[UserStats, list[tuple[str, int]]]:
    """The caller's figures and their last 30 days."""
    today = datetime.now(UTC).date()
    since = (today - timedelta(days=STATS_DAYS - 1)).isoformat()
    with database.unit_of_work(user_id, write=False) as unit:
        stats = unit.stats.of(user_id, since_day=since)
    return stats, daily_counts(stats, today)
