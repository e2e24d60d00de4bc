"""The default backend: TinyDB JSON files, one per user's threads and one per thread."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import Any

from ..errors import DataFolderInUse, DataFolderInvalid, RestoreError, StorageError
from ..records import ConversationRecord, MessageRecord, Role, UserRecord, utc_now
from .base import Database, Dump, Page
from .files import TEMP_SUFFIX, FileLock
from .thread_files import BY_ID, ThreadFiles
from .users_file import UsersFile

__all__ = ["TinyDBDatabase"]

logger = logging.getLogger(__name__)


class TinyDBDatabase(Database):
    """TinyDB files under one data folder, owned by one process at a time.

    Layout: `users.json`; `conversations/<user_id>.json` (one user's threads);
    `historique/<conversation_id>.json` (one thread's messages). A chat turn touches only
    the caller's two small files, so its cost does not grow with the whole history.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.users = UsersFile(folder / "users.json")
        self.threads = ThreadFiles(folder)
        self._owner_lock = FileLock(folder / ".server.lock")

    @classmethod
    def open(cls, folder: Path) -> TinyDBDatabase:
        """Take ownership of the folder, check every file and clear crash leftovers."""
        database = cls(folder)
        database._prepare_folder()
        database._take_ownership()
        try:
            database._recover()
        except BaseException:
            database.close()
            raise
        return database

    def close(self) -> None:
        """Release the data folder for another process."""
        self._owner_lock.release()

    # -- start-up ------------------------------------------------------------------------
    def _folders(self) -> tuple[Path, ...]:
        return (self.folder, self.threads.conversations_dir, self.threads.history_dir)

    def _prepare_folder(self) -> None:
        for folder in self._folders():
            if folder.exists() and not folder.is_dir():
                raise DataFolderInvalid(f"data path {folder} is a file, not a folder")
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DataFolderInvalid(f"cannot create data folder {folder}: {exc.strerror}") from exc

    def _take_ownership(self) -> None:
        try:
            acquired = self._owner_lock.acquire(blocking=False)
        except OSError as exc:
            raise DataFolderInvalid(f"cannot lock data folder {self.folder}: {exc.strerror}") from exc
        if not acquired:
            owner = self._owner_lock.path.read_text(encoding="utf-8").strip() or "unknown"
            raise DataFolderInUse(
                f"data folder {self.folder} is already used by another AssistantIA process "
                f"(pid {owner}); stop it, or set BDD_DIR to another folder"
            )
        self._owner_lock.write_owner(str(os.getpid()))

    def _recover(self) -> None:
        # Everything is checked before anything is cleaned: a refused start-up changes no file.
        self.users.load()
        plan = self.threads.check(self.users.ids())
        temps = [temp for folder in self._folders() for temp in folder.glob(f".*{TEMP_SUFFIX}")]
        for temp in temps:
            temp.unlink()
        report = self.threads.sweep(plan)
        if temps or report.removed:
            logger.warning(
                "Removed %d leftover file(s) of interrupted operations", len(temps) + report.removed
            )
        if report.refreshed:
            logger.warning("Brought %d conversation time(s) up to their last message", report.refreshed)

    # -- users ---------------------------------------------------------------------------
    def get_user(self, user_id: str) -> UserRecord | None:
        return self.users.get(user_id)

    def get_user_by_email(self, email: str) -> UserRecord | None:
        return self.users.get_by_email(email)

    def list_users(self) -> list[UserRecord]:
        return self.users.all()

    def add_user(self, user: UserRecord) -> None:
        self.users.add(user)

    def set_role(self, email: str, role: Role) -> UserRecord | None:
        return self.users.set_role(email, role)

    def delete_user(self, user_id: str) -> bool:
        with self.threads.lock(user_id):
            # The account goes first: from then on its files are orphans that start-up
            # clears, even if we crash before deleting them below.
            if not self.users.remove(user_id):
                return False
            self.threads.drop_user_threads(user_id)
        self.threads.forget_lock(user_id)
        return True

    # -- conversations -------------------------------------------------------------------
    def list_conversations(self, user_id: str, *, limit: int, offset: int) -> Page[ConversationRecord]:
        with self.threads.lock(user_id):
            docs = self.threads.conversations(user_id).all()
        docs.sort(key=lambda doc: (doc["updated_at"], doc["id"]), reverse=True)
        return Page(items=_plain(docs[offset : offset + limit]), total=len(docs))

    def get_conversation(self, user_id: str, conversation_id: str) -> ConversationRecord | None:
        with self.threads.lock(user_id):
            return self.threads.find(user_id, conversation_id)

    def add_conversation(self, conversation: ConversationRecord) -> None:
        user_id = conversation["user_id"]
        with self.threads.lock(user_id):
            if self.users.get(user_id) is not None:
                self.threads.conversations(user_id).insert(dict(conversation))

    def rename_conversation(
        self, user_id: str, conversation_id: str, *, title: str, updated_at: str
    ) -> ConversationRecord | None:
        with self.threads.lock(user_id):
            if self.threads.find(user_id, conversation_id) is None:
                return None
            changes = {"title": title, "updated_at": updated_at}
            self.threads.conversations(user_id).update(changes, BY_ID == conversation_id)
            return self.threads.find(user_id, conversation_id)

    def delete_conversation(self, user_id: str, conversation_id: str) -> bool:
        with self.threads.lock(user_id):
            if self.threads.find(user_id, conversation_id) is None:
                return False
            self.threads.conversations(user_id).remove(BY_ID == conversation_id)
            self.threads.drop_history(conversation_id)
            return True

    def delete_conversations(self, user_id: str) -> int:
        with self.threads.lock(user_id):
            return self.threads.drop_user_threads(user_id)

    # -- messages ------------------------------------------------------------------------
    def list_messages(
        self, user_id: str, conversation_id: str, *, limit: int, offset: int
    ) -> Page[MessageRecord] | None:
        with self.threads.lock(user_id):
            if self.threads.find(user_id, conversation_id) is None:
                return None
            docs = self.threads.messages(conversation_id)
            return Page(items=_plain(docs[offset : offset + limit]), total=len(docs))

    def recent_messages(self, user_id: str, conversation_id: str, count: int) -> list[MessageRecord] | None:
        with self.threads.lock(user_id):
            if self.threads.find(user_id, conversation_id) is None:
                return None
            docs = self.threads.messages(conversation_id)
            return _plain(docs[-count:]) if count > 0 else []

    def clear_messages(self, user_id: str, conversation_id: str) -> bool:
        with self.threads.lock(user_id):
            if self.threads.find(user_id, conversation_id) is None:
                return False
            self.threads.drop_history(conversation_id)
            return True

    def add_turn(
        self,
        user_id: str,
        conversation_id: str,
        messages: list[MessageRecord],
        *,
        new_conversation: ConversationRecord | None = None,
    ) -> ConversationRecord | None:
        with self.threads.lock(user_id):
            if new_conversation is not None:
                conversation = dict(new_conversation) if self.users.get(user_id) else None
            else:
                conversation = self.threads.find(user_id, conversation_id)  # type: ignore[assignment]
            if conversation is None:
                return None
            # Stamped under the lock, so history order and time order agree even when
            # parallel turns of one thread finish out of order.
            stamped = [{**message, "created_at": utc_now()} for message in messages]
            # Messages first: until the thread's record says so, a crash leaves at most an
            # orphan history file that start-up deletes.
            history = self.threads.history(conversation_id)
            added = history.insert_multiple(stamped)
            conversation["updated_at"] = stamped[-1]["created_at"]
            conversations = self.threads.conversations(user_id)
            try:
                if new_conversation is not None:
                    conversations.insert(conversation)
                else:
                    conversations.update({"updated_at": conversation["updated_at"]}, BY_ID == conversation_id)
            except StorageError:
                # The turn is refused, so its messages must not stay. If taking them back fails
                # too, start-up treats them as a crash leftover: orphan file, or a late turn.
                with suppress(StorageError):
                    if new_conversation is not None:
                        self.threads.drop_history(conversation_id)
                    else:
                        history.remove(doc_ids=added)
                raise
            return conversation  # type: ignore[return-value]

    # -- whole database ------------------------------------------------------------------
    def export_dump(self) -> Dump:
        dump = Dump(users=self.users.all(), conversations=[], messages=[])
        for user in dump.users:
            with self.threads.lock(user["id"]):
                threads = sorted(
                    self.threads.conversations(user["id"]).all(), key=lambda doc: doc["created_at"]
                )
                for thread in threads:
                    dump.conversations.append(dict(thread))  # type: ignore[arg-type]
                    dump.messages.extend(_plain(self.threads.messages(thread["id"])))
        return dump

    def import_dump(self, dump: Dump) -> None:
        if self.users.ids() or not self.threads.is_empty():
            raise RestoreError(f"data folder {self.folder} is not empty; restore needs an empty one")
        # Threads before accounts: an interrupted restore leaves only orphans that the
        # next start-up clears, never a half-visible database.
        for conversation_id, messages in _group(dump.messages, "conversation_id").items():
            self.threads.history(conversation_id).insert_multiple(messages)
        for user_id, conversations in _group(dump.conversations, "user_id").items():
            self.threads.conversations(user_id).insert_multiple(conversations)
        self.users.add_many(dump.users)


def _plain(docs: Iterable[Any]) -> list[Any]:
    # TinyDB Documents carry a doc_id the rest of the app must not depend on.
    return [dict(doc) for doc in docs]


def _group(records: Iterable[Any], key: str) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(record[key], []).append(dict(record))
    return groups
