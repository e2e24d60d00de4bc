"""The TinyDB side of issue 11's thread methods: organising fields, labels, folders and dated copies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..records import ConversationRecord, MessageRecord
from .tiny_search import message_entry
from .tinydb_stats import label_counts

if TYPE_CHECKING:
    from .thread_files import ThreadFiles
    from .tinydb_units import TinyUnitOfWork

__all__ = ["TinyOrganising"]


class TinyOrganising:
    """Mixed into TinyThreads: the same unit, files and lookups (every method under the owner's lock)."""

    _unit: TinyUnitOfWork
    _files: ThreadFiles

    def _find(self, user_id: str, conversation_id: str) -> ConversationRecord | None:
        raise NotImplementedError

    def organise(
        self, user_id: str, conversation_id: str, changes: Mapping[str, object]
    ) -> ConversationRecord | None:
        conversation = self._find(user_id, conversation_id)
        if conversation is None:
            return None
        self._files.conversations(user_id).update(conversation_id, dict(changes))
        return {**conversation, **changes}  # type: ignore[return-value]

    def tag_counts(self, user_id: str) -> dict[str, int]:
        self._unit.lock_user(user_id)
        return label_counts(self._files.conversations(user_id).shared_records(), "tags")

    def folder_counts(self, user_id: str) -> dict[str, int]:
        self._unit.lock_user(user_id)
        return label_counts(self._files.conversations(user_id).shared_records(), "folder")

    def move_folder(self, user_id: str, folder: str, to: str | None) -> int:
        self._unit.lock_user(user_id)
        table = self._files.conversations(user_id)
        moving = [doc["id"] for doc in table.shared_records() if doc.get("folder") == folder]
        for conversation_id in moving:
            table.update(conversation_id, {"folder": to})
        return len(moving)

    def insert_dated(
        self, user_id: str, conversation_id: str, messages: list[MessageRecord]
    ) -> ConversationRecord | None:
        conversation = self._find(user_id, conversation_id)
        if conversation is None:
            return None
        self._files.history(conversation_id, user_id).insert([dict(message) for message in messages])
        self._unit.set_summary(user_id, conversation_id, self._unit.summary(conversation_id).plus(messages))
        entries = [message_entry(message) for message in messages]
        self._unit.search_changes.add(user_id, lambda index: index.add_all(entries))
        last = max([conversation["updated_at"], *(message["created_at"] for message in messages)])
        if last > conversation["updated_at"]:
            self._unit.moved[conversation_id] = last
        return {**conversation, "updated_at": last, **self._sized(conversation_id)}  # type: ignore[return-value]

    def _sized(self, conversation_id: str) -> dict[str, Any]:
        summary = self._unit.summary(conversation_id)
        return {"message_count": summary.count, "preview": summary.preview}
