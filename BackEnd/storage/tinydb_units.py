"""The TinyDB unit of work: the owner's lock, changes staged in memory, one commit point."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from tinydb import Query
from tinydb.table import Table

from ..emails import email_key
from ..errors import EmailAlreadyRegistered, NotFoundError
from ..records import (
    AuditRecord,
    ConversationRecord,
    MessageRecord,
    Role,
    UserRecord,
    stamp_after,
    with_account_defaults,
)
from .base import Accounts, AuditTrail, Page, RecentEvents, Threads, UnitOfWork
from .journal import FileTransaction, UnfinishedWork
from .thread_files import ThreadFiles
from .user_pages import matching_page
from .users_file import UsersFile

__all__ = ["TinyUnitOfWork"]

_BY_ID = Query().id


class TinyUnitOfWork(UnitOfWork):
    """Holds the locks it needs until it ends; its file transaction commits everything at once.

    Lock order: a user's thread lock, then the accounts file's locks, each taken on first use.
    """

    def __init__(
        self,
        users: UsersFile,
        threads: ThreadFiles,
        transaction: FileTransaction,
        unfinished: UnfinishedWork,
        events: RecentEvents,
    ) -> None:
        self.users = users
        self.files = threads
        self.transaction = transaction
        self.unfinished = unfinished
        self.locks = ExitStack()
        self.locked_users: set[str] = set()
        self.forgotten: dict[str, list[str]] = {}  # user id: threads whose files are gone after commit
        self.moved: dict[str, str] = {}  # thread id: the time of the last message this unit added
        self.deleted_accounts: list[str] = []
        self._accounts = TinyAccounts(self)
        self._threads = TinyThreads(self)
        self._audit = TinyAudit(self)
        self._events = events
        self.accounts_changed = False
        self._table: Table | None = None

    @property
    def accounts(self) -> Accounts:
        return self._accounts

    @property
    def threads(self) -> Threads:
        return self._threads

    @property
    def audit(self) -> AuditTrail:
        return self._audit

    @property
    def events(self) -> RecentEvents:
        return self._events

    def lock_user(self, user_id: str) -> None:
        """Take the user's thread lock for the rest of the unit."""
        if user_id not in self.locked_users:
            self.locks.enter_context(self.files.lock(user_id))
            self.locked_users.add(user_id)

    def users_table(self) -> Table:
        """The accounts table, write-locked for the rest of the unit."""
        if self._table is None:
            self._table = self.locks.enter_context(self.users.writing())
            self.accounts_changed = True
        return self._table

    def finish(self, *, commit: bool) -> None:
        """Commit (or abandon) every staged change, then release the locks."""
        committed = False
        try:
            if commit:
                try:
                    # Again under this unit's locks: a unit that waited for them while an older
                    # commit failed to finish must not have that journal replayed over its files.
                    self.unfinished.finish()
                    unfinished = self.transaction.commit()
                except BaseException:
                    self._abandon()
                    raise
                if unfinished is not None:
                    self.unfinished.add(unfinished)
                self.files.grew()
                if self.accounts_changed:
                    self.users.committed()
                self.files.last_message.update(self.moved)
                for user_id, conversation_ids in self.forgotten.items():
                    self.files.forget(user_id, conversation_ids)
                committed = True
            else:
                self._abandon()
        finally:
            self.locks.close()
            self.files.trim()
        if committed:  # released above: a deleted account's lock no longer grows the table of locks
            for user_id in self.deleted_accounts:
                self.files.forget_lock(user_id)

    def _abandon(self) -> None:
        self.transaction.rollback()
        if self.accounts_changed:
            self.users.abandoned()


class TinyAccounts(Accounts):
    """Accounts in users.json; lookups inside a unit that changed them see the change."""

    def __init__(self, unit: TinyUnitOfWork) -> None:
        self._unit = unit

    def _staged(self) -> list[UserRecord] | None:
        return self._unit.users.staged_records() if self._unit.accounts_changed else None

    def get(self, user_id: str) -> UserRecord | None:
        staged = self._staged()
        if staged is None:
            return self._unit.users.get(user_id)
        return next((user for user in staged if user["id"] == user_id), None)

    def get_by_email(self, email: str) -> UserRecord | None:
        staged = self._staged()
        if staged is None:
            return self._unit.users.get_by_email(email)
        key = email_key(email)
        return next((user for user in staged if email_key(user["email"]) == key), None)

    def all(self) -> list[UserRecord]:
        staged = self._staged()
        return self._unit.users.all() if staged is None else staged

    def add(self, user: UserRecord) -> None:
        table = self._unit.users_table()
        if self.get_by_email(user["email"]) is not None:
            raise EmailAlreadyRegistered("An account with this email already exists.")
        table.insert(dict(with_account_defaults(dict(user))))

    def set_role(self, email: str, role: Role) -> UserRecord | None:
        table = self._unit.users_table()
        found = self.get_by_email(email)
        if found is None:
            return None
        table.update({"role": role}, _BY_ID == found["id"])
        return {**found, "role": role}

    def delete(self, user_id: str) -> bool:
        self._unit.lock_user(user_id)
        table = self._unit.users_table()
        if self.get(user_id) is None:
            return False
        self._unit.threads.delete_all(user_id)
        self._unit.transaction.delete(self._unit.files.conversations_dir / f"{user_id}.json")
        table.remove(_BY_ID == user_id)
        self._unit.deleted_accounts.append(user_id)
        return True

    def page(self, *, query: str, active: bool | None, limit: int, offset: int) -> Page[UserRecord]:
        return matching_page(self.all(), query=query, active=active, limit=limit, offset=offset)

    def update(self, user_id: str, changes: dict[str, object]) -> UserRecord | None:
        table = self._unit.users_table()
        found = self.get(user_id)
        if found is None:
            return None
        table.update(dict(changes), _BY_ID == user_id)
        return with_account_defaults({**found, **changes})

    def spend_credits(self, user_id: str, amount: int) -> None:
        # Unlimited accounts never rewrite the accounts file on a turn.
        stored = self._unit.users.get(user_id)
        if stored is None or stored["credits"] is None:
            return
        table = self._unit.users_table()
        found = self.get(user_id)  # again under the write lock: another turn may have spent some
        if found is not None and found["credits"] is not None:
            table.update({"credits": found["credits"] - amount}, _BY_ID == user_id)


class TinyAudit(AuditTrail):
    """The audit table of users.json, written under the accounts file's locks."""

    def __init__(self, unit: TinyUnitOfWork) -> None:
        self._unit = unit

    def append(self, event: AuditRecord) -> None:
        self._unit.users_table()
        self._unit.users.audit_table().insert(dict(event))

    def page(self, *, limit: int, offset: int) -> Page[AuditRecord]:
        events = self._unit.users.staged_audit() if self._unit.accounts_changed else self._unit.users.audit()
        newest_first = events[::-1]
        return Page(items=newest_first[offset : offset + limit], total=len(events))


class TinyThreads(Threads):
    """A user's conversation file and thread files, under that user's lock."""

    def __init__(self, unit: TinyUnitOfWork) -> None:
        self._unit = unit
        self._files = unit.files

    # A turn writes only its thread's file: a thread's `updated_at` is the later of its record's
    # (creation, rename) and its last message's, which ThreadFiles keeps in memory. So a turn
    # commits with one rename, and the conversation list is rewritten only when it changes.
    def _updated_at(self, doc: ConversationRecord | dict[str, Any]) -> str:
        moved = self._unit.moved.get(doc["id"]) or self._files.last_message.get(doc["id"], "")
        return max(doc["updated_at"], moved)

    def _find(self, user_id: str, conversation_id: str) -> ConversationRecord | None:
        self._unit.lock_user(user_id)
        found = self._files.find(user_id, conversation_id)
        if found is not None:
            found["updated_at"] = self._updated_at(found)
        return found

    def page(self, user_id: str, *, limit: int, offset: int) -> Page[ConversationRecord]:
        self._unit.lock_user(user_id)
        docs = [(self._updated_at(doc), doc) for doc in self._files.conversations(user_id).shared_records()]
        docs.sort(key=lambda pair: (pair[0], pair[1]["id"]), reverse=True)
        items = [{**doc, "updated_at": updated_at} for updated_at, doc in docs[offset : offset + limit]]
        return Page(items=items, total=len(docs))  # type: ignore[arg-type]

    def count(self, user_id: str) -> int:
        self._unit.lock_user(user_id)
        return self._files.conversations(user_id).count()

    def get(self, user_id: str, conversation_id: str) -> ConversationRecord | None:
        return self._find(user_id, conversation_id)

    def add(self, conversation: ConversationRecord) -> None:
        self._unit.lock_user(conversation["user_id"])
        # Under the owner's lock, which deleting the account takes too: no orphan file can appear.
        if self._unit.accounts.get(conversation["user_id"]) is None:
            raise NotFoundError("Not found: it was deleted meanwhile.")
        self._files.conversations(conversation["user_id"]).insert([dict(conversation)])

    def rename(self, user_id: str, conversation_id: str, title: str) -> ConversationRecord | None:
        conversation = self._find(user_id, conversation_id)
        if conversation is None:
            return None
        changes = {"title": title, "updated_at": stamp_after(conversation["updated_at"])}
        self._files.conversations(user_id).update(conversation_id, changes)
        return {**conversation, **changes}  # type: ignore[return-value]

    def delete(self, user_id: str, conversation_id: str) -> bool:
        if self._find(user_id, conversation_id) is None:
            return False
        self._files.conversations(user_id).remove(conversation_id)
        self._drop_history(user_id, conversation_id)
        return True

    def delete_all(self, user_id: str) -> int:
        self._unit.lock_user(user_id)
        table = self._files.conversations(user_id)
        ids = table.ids()
        if ids:
            table.truncate()
        for conversation_id in ids:
            self._drop_history(user_id, conversation_id)
        return len(ids)

    def _drop_history(self, user_id: str, conversation_id: str) -> None:
        self._files.drop_history(conversation_id, self._unit.transaction)
        self._unit.forgotten.setdefault(user_id, []).append(conversation_id)

    def messages(
        self, user_id: str, conversation_id: str, *, limit: int, offset: int
    ) -> Page[MessageRecord] | None:
        if self._find(user_id, conversation_id) is None:
            return None
        history = self._files.history(conversation_id)
        return Page(items=history.records(offset, offset + limit), total=history.count())  # type: ignore[arg-type]

    def message_count(self, user_id: str, conversation_id: str) -> int:
        if self._find(user_id, conversation_id) is None:
            return 0
        return self._files.history(conversation_id).count()

    def recent(self, user_id: str, conversation_id: str, count: int) -> Page[MessageRecord] | None:
        if self._find(user_id, conversation_id) is None:
            return None
        history = self._files.history(conversation_id)
        items = history.records(-count) if count > 0 else []
        return Page(items=items, total=history.count())  # type: ignore[arg-type]

    def append(
        self, user_id: str, conversation_id: str, messages: list[MessageRecord]
    ) -> ConversationRecord | None:
        conversation = self._find(user_id, conversation_id)
        if conversation is None:
            return None
        stamped: list[MessageRecord] = []
        last = conversation["updated_at"]
        for message in messages:
            last = stamp_after(last)
            stamped.append({**message, "created_at": last})
        self._files.history(conversation_id).insert(stamped)  # type: ignore[arg-type]
        self._unit.moved[conversation_id] = last
        return {**conversation, "updated_at": last}

    def clear(self, user_id: str, conversation_id: str) -> bool:
        conversation = self._find(user_id, conversation_id)
        if conversation is None:
            return False
        # The last message's time goes with the messages: the record keeps it.
        self._files.conversations(user_id).update(conversation_id, {"updated_at": conversation["updated_at"]})
        self._unit.moved.pop(conversation_id, None)
        self._files.drop_history(conversation_id, self._unit.transaction)
        self._unit.forgotten.setdefault(user_id, []).append(conversation_id)
        return True


def _plain(docs: Any) -> list[Any]:
    # TinyDB Documents carry a doc_id the rest of the app must not depend on.
    return [dict(doc) for doc in docs]
