"""The default backend: TinyDB JSON files, one per user's threads and one per thread."""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tinydb import Query, TinyDB
from tinydb.table import Table

from ..errors import DataFileCorrupt, DataFolderInUse, DataFolderInvalid, RestoreError
from ..records import ConversationRecord, MessageRecord, Role, UserRecord, is_valid_id
from .base import Database, Dump, Page
from .files import TEMP_SUFFIX, FileLock, remove_durably
from .tinydb_storage import DurableJSONStorage
from .users_file import UsersFile

__all__ = ["TinyDBDatabase"]

logger = logging.getLogger(__name__)

_CONVERSATION_FIELDS = ("id", "user_id", "title", "created_at", "updated_at")
_by_id = Query().id


class TinyDBDatabase(Database):
    """TinyDB files under one data folder, owned by one process at a time.

    Layout: `users.json`; `conversations/<user_id>.json` (one user's threads);
    `historique/<conversation_id>.json` (one thread's messages). A chat turn touches only
    the caller's two small files, so its cost does not grow with the whole history. One
    lock per user serialises that user's changes; different users never wait on each other.
    """

    def __init__(self, folder: Path, *, history_cache_size: int = 64) -> None:
        self.folder = folder
        self.users = UsersFile(folder / "users.json")
        self._conversations_dir = folder / "conversations"
        self._history_dir = folder / "historique"
        self._owner_lock = FileLock(folder / ".server.lock")
        self._user_locks: dict[str, threading.Lock] = {}
        self._user_locks_guard = threading.Lock()
        self._conversation_tables: dict[str, Table] = {}
        self._history_tables: OrderedDict[str, Table] = OrderedDict()
        self._history_guard = threading.Lock()
        self._history_cache_size = history_cache_size

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
    def _prepare_folder(self) -> None:
        for folder in (self.folder, self._conversations_dir, self._history_dir):
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
        leftovers = 0
        for folder in (self.folder, self._conversations_dir, self._history_dir):
            for temp in folder.glob(f".*{TEMP_SUFFIX}"):
                temp.unlink()
                leftovers += 1
        self.users.load()
        user_ids = self.users.ids()
        live: set[str] = set()
        for path in sorted(self._conversations_dir.glob("*.json")):
            if path.stem not in user_ids:
                leftovers += remove_durably(path)
                continue
            for doc in self._conversations(path.stem).all():
                _check_conversation(path, path.stem, doc)
                live.add(doc["id"])
        for path in sorted(self._history_dir.glob("*.json")):
            if path.stem not in live:
                leftovers += remove_durably(path)
                continue
            DurableJSONStorage(path).read()  # raises DataFileCorrupt naming the file
        if leftovers:
            logger.warning("Removed %d leftover file(s) of an interrupted operation", leftovers)

    # -- files and locks -----------------------------------------------------------------
    def _user_lock(self, user_id: str) -> threading.Lock:
        with self._user_locks_guard:
            return self._user_locks.setdefault(user_id, threading.Lock())

    def _conversations(self, user_id: str) -> Table:
        table = self._conversation_tables.get(user_id)
        if table is None:
            path = self._conversations_dir / f"{user_id}.json"
            table = TinyDB(str(path), storage=DurableJSONStorage).table("conversations")
            self._conversation_tables[user_id] = table
        return table

    def _history(self, conversation_id: str) -> Table:
        with self._history_guard:
            table = self._history_tables.pop(conversation_id, None)
            if table is None:
                path = self._history_dir / f"{conversation_id}.json"
                table = TinyDB(str(path), storage=DurableJSONStorage).table("messages")
            self._history_tables[conversation_id] = table
            while len(self._history_tables) > self._history_cache_size:
                self._history_tables.popitem(last=False)
        return table

    def _drop_history(self, conversation_id: str) -> None:
        with self._history_guard:
            self._history_tables.pop(conversation_id, None)
        remove_durably(self._history_dir / f"{conversation_id}.json")

    def _find(self, user_id: str, conversation_id: str) -> ConversationRecord | None:
        doc = self._conversations(user_id).get(_by_id == conversation_id)
        return dict(doc) if doc is not None else None  # type: ignore[return-value]

    def _drop_all_conversations(self, user_id: str) -> int:
        ids = [doc["id"] for doc in self._conversations(user_id).all()]
        self._conversation_tables.pop(user_id, None)
        remove_durably(self._conversations_dir / f"{user_id}.json")
        for conversation_id in ids:
            self._drop_history(conversation_id)
        return len(ids)

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
        with self._user_lock(user_id):
            # The account goes first: from then on its leftovers are orphans that
            # start-up would clear even if we crashed now.
            if not self.users.remove(user_id):
                return False
            self._drop_all_conversations(user_id)
        with self._user_locks_guard:
            self._user_locks.pop(user_id, None)
        return True

    # -- conversations -------------------------------------------------------------------
    def list_conversations(self, user_id: str, *, limit: int, offset: int) -> Page[ConversationRecord]:
        with self._user_lock(user_id):
            docs = self._conversations(user_id).all()
        docs.sort(key=lambda doc: (doc["updated_at"], doc["id"]), reverse=True)
        return Page(items=[dict(doc) for doc in docs[offset : offset + limit]], total=len(docs))  # type: ignore[misc]

    def get_conversation(self, user_id: str, conversation_id: str) -> ConversationRecord | None:
        with self._user_lock(user_id):
            return self._find(user_id, conversation_id)

    def add_conversation(self, conversation: ConversationRecord) -> None:
        user_id = conversation["user_id"]
        with self._user_lock(user_id):
            if self.users.get(user_id) is not None:
                self._conversations(user_id).insert(dict(conversation))

    def rename_conversation(
        self, user_id: str, conversation_id: str, *, title: str, updated_at: str
    ) -> ConversationRecord | None:
        with self._user_lock(user_id):
            if self._find(user_id, conversation_id) is None:
                return None
            self._conversations(user_id).update({"title": title, "updated_at": updated_at}, _by_id == conversation_id)
            return self._find(user_id, conversation_id)

    def delete_conversation(self, user_id: str, conversation_id: str) -> bool:
        with self._user_lock(user_id):
            if self._find(user_id, conversation_id) is None:
                return False
            self._conversations(user_id).remove(_by_id == conversation_id)
            self._drop_history(conversation_id)
            return True

    def delete_conversations(self, user_id: str) -> int:
        with self._user_lock(user_id):
            return self._drop_all_conversations(user_id)

    # -- messages ------------------------------------------------------------------------
    def list_messages(
        self, user_id: str, conversation_id: str, *, limit: int, offset: int
    ) -> Page[MessageRecord] | None:
        with self._user_lock(user_id):
            if self._find(user_id, conversation_id) is None:
                return None
            docs = self._history(conversation_id).all()
        return Page(items=[dict(doc) for doc in docs[offset : offset + limit]], total=len(docs))  # type: ignore[misc]

    def recent_messages(self, user_id: str, conversation_id: str, count: int) -> list[MessageRecord] | None:
        with self._user_lock(user_id):
            if self._find(user_id, conversation_id) is None:
                return None
            docs = self._history(conversation_id).all()
        return [dict(doc) for doc in docs[-count:]] if count > 0 else []  # type: ignore[misc]

    def clear_messages(self, user_id: str, conversation_id: str) -> bool:
        with self._user_lock(user_id):
            if self._find(user_id, conversation_id) is None:
                return False
            self._drop_history(conversation_id)
            return True

    def add_turn(
        self,
        user_id: str,
        conversation_id: str,
        messages: list[MessageRecord],
        *,
        new_conversation: ConversationRecord | None = None,
    ) -> ConversationRecord | None:
        with self._user_lock(user_id):
            if new_conversation is not None:
                conversation = dict(new_conversation) if self.users.get(user_id) else None
            else:
                conversation = self._find(user_id, conversation_id)
            if conversation is None:
                return None
            # Messages first: until the thread's record says so, a crash leaves at most an
            # orphan history file that start-up deletes.
            self._history(conversation_id).insert_multiple(dict(message) for message in messages)
            conversation["updated_at"] = max(conversation["updated_at"], messages[-1]["created_at"])
            conversations = self._conversations(user_id)
            if new_conversation is not None:
                conversations.insert(conversation)
            else:
                conversations.update({"updated_at": conversation["updated_at"]}, _by_id == conversation_id)
            return conversation  # type: ignore[return-value]

    # -- whole database ------------------------------------------------------------------
    def export_dump(self) -> Dump:
        dump = Dump(users=self.users.all(), conversations=[], messages=[])
        for user in dump.users:
            with self._user_lock(user["id"]):
                threads = sorted(self._conversations(user["id"]).all(), key=lambda doc: doc["created_at"])
                for thread in threads:
                    dump.conversations.append(dict(thread))  # type: ignore[arg-type]
                    dump.messages.extend(dict(doc) for doc in self._history(thread["id"]).all())  # type: ignore[misc]
        return dump

    def import_dump(self, dump: Dump) -> None:
        if self.users.ids() or _has_files(self._conversations_dir, self._history_dir):
            raise RestoreError(f"data folder {self.folder} is not empty; restore needs an empty one")
        # Threads before accounts: an interrupted restore leaves only orphans that the
        # next start-up clears, never a half-visible database.
        for conversation_id, messages in _group(dump.messages, "conversation_id").items():
            self._history(conversation_id).insert_multiple(messages)
        for user_id, conversations in _group(dump.conversations, "user_id").items():
            self._conversations(user_id).insert_multiple(conversations)
        self.users.add_many(dump.users)


def _check_conversation(path: Path, user_id: str, doc: dict[str, Any]) -> None:
    for field in _CONVERSATION_FIELDS:
        if not isinstance(doc.get(field), str):
            raise DataFileCorrupt(path, f"a conversation has no valid {field!r}")
    if doc["user_id"] != user_id or not is_valid_id("conv", doc["id"]):
        raise DataFileCorrupt(path, f"conversation {doc['id']!r} has a wrong id or owner")


def _has_files(*folders: Path) -> bool:
    return any(any(folder.glob("*.json")) for folder in folders)


def _group(records: Iterable[Any], key: str) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(record[key], []).append(dict(record))
    return groups
