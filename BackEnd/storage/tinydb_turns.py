"""The TinyDB side of issue 10's regenerate and edit: a thread's last turn replaced in one unit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import NothingToRegenerate
from ..records import ConversationRecord, MessageRecord, stamp_after
from .base import STALE_TURN
from .summaries import summarise
from .tiny_search import message_entry

if TYPE_CHECKING:
    from .thread_files import ThreadFiles
    from .tinydb_units import TinyUnitOfWork

__all__ = ["TinyTurns"]

# What a replaced answer takes from its replacement; its id, place and created_at stay.
_ANSWER_FIELDS = ("content", "model", "finish_reason", "usage", "reply_to", "edited_at")


class TinyTurns:
    """Mixed into TinyThreads: the same unit, files and lookups (every method under the owner's lock)."""

    _unit: TinyUnitOfWork
    _files: ThreadFiles

    def _find(self, user_id: str, conversation_id: str) -> ConversationRecord | None:
        raise NotImplementedError

    def replace_last_turn(
        self,
        user_id: str,
        conversation_id: str,
        question: MessageRecord,
        replaced: Sequence[str],
        answers: list[MessageRecord],
    ) -> ConversationRecord | None:
        conversation = self._find(user_id, conversation_id)
        if conversation is None:
            return None
        history = self._files.history(conversation_id, user_id)
        tail = history.records(-(len(replaced) + 1)) if history.count() else []
        if [message["id"] for message in tail] != [question["id"], *replaced]:
            raise NothingToRegenerate(STALE_TURN)
        kept = [answer for answer in answers if answer["id"] in replaced]
        kept_ids = {answer["id"] for answer in kept}
        gone = [answer_id for answer_id in replaced if answer_id not in kept_ids]
        fresh = [answer for answer in answers if answer["id"] not in replaced]
        last = conversation["updated_at"] if fresh else stamp_after(conversation["updated_at"])
        added: list[dict[str, Any]] = []
        for answer in fresh:  # stamped as `append` stamps: the thread's updated_at is the last one's
            last = stamp_after(last)
            added.append({**answer, "created_at": last})
        changed = [
            history.update(
                question["id"], {"content": question["content"], "edited_at": question.get("edited_at")}
            )
        ]
        changed += [
            history.update(answer["id"], {field: answer.get(field) for field in _ANSWER_FIELDS})
            for answer in kept
        ]
        for answer_id in gone:
            history.remove(answer_id)
        history.insert(added)
        if fresh:
            self._unit.moved[conversation_id] = last
        else:  # no new message carries the change's time: the thread's record does, as a rename's
            self._files.conversations(user_id).update(conversation_id, {"updated_at": last})
        # A rare change: the thread's figures are read again rather than patched.
        self._unit.set_summary(user_id, conversation_id, summarise(history.records()))
        entries = [message_entry(message) for message in [*changed, *added] if message is not None]  # type: ignore[arg-type]

        def reindex(index: Any) -> None:
            for answer_id in gone:
                index.remove(answer_id)
            index.add_all(entries)

        self._unit.search_changes.add(user_id, reindex)
        summary = self._unit.summary(conversation_id)
        return {
            **conversation,
            "updated_at": last,
            "message_count": summary.count,
            "preview": summary.preview,
        }
