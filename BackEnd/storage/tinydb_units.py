"""The TinyDB unit of work: the owner's lock, changes staged in memory, one commit point."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any

from tinydb import Query
from tinydb.table import Table

from ..errors import NotFoundError
from ..record_checks import stored_conversation
from ..records import ConversationRecord, MessageRecord, stamp_after
from .base import (
    ALL_THREADS,
    Accounts,
    AuditTrail,
    Page,
    RecentEvents,
    SearchIndex,
    Stats,
    ThreadQuery,
    Threads,
    UnitOfWork,
    UsageLedger,
)
from .credit_files import CreditFiles
from .file_store import FileStore
from .journal import FileTransaction, UnfinishedWork
from .summaries import EMPTY, ThreadSummary
from .thread_files import ThreadFiles
from .thread_query import select_threads
from .tiny_search import SearchCache, SearchChanges, message_entry, title_entry
from .tinydb_accounts import TinyAccounts, TinyAudit
from .tinydb_files import ImageFolder, TinyFiles
from .tinydb_organise import TinyOrganising
from .tinydb_search import TinySearch
from .tinydb_stats import TinyStats
from .tinydb_turns import TinyTurns
from .tinydb_usage import TinyUsageLedger
from .usage_files import UsageIndex
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
        usage_index: UsageIndex,
        transaction: FileTransaction,
        unfinished: UnfinishedWork,
        search_cache: SearchCache,
        events: RecentEvents,
        credits: CreditFiles,
        images: ImageFolder,
    ) -> None:
        self.users = users
        self.files = threads
        self.usage_index = usage_index
        self.transaction = transaction
        self.unfinished = unfinished
        self.locks = ExitStack()
        self.locked_users: set[str] = set()
        self.forgotten: dict[str, list[str]] = {}  # user id: threads whose files are gone after commit
        self.moved: dict[str, str] = {}  # thread id: the time of the last message this unit added
        self.deleted_accounts: list[str] = []
        # Thread id: its summary once this unit commits (None: the thread is gone).
        self.summaries: dict[str, ThreadSummary | None] = {}
        self.summary_owners: dict[str, str] = {}  # thread id: its owner, whose record is now stale
        self._accounts = TinyAccounts(self)  # the accounts side lives in tinydb_accounts.py
        self._threads = TinyThreads(self)
        self._stats = TinyStats(self)
        self.search_cache = search_cache
        self.search_changes = SearchChanges()
        self.search_built: set[str] = set()  # users whose index this unit read (or built)
        self._search = TinySearch(self)
        self.ledger = TinyUsageLedger(self)
        self.credits = credits
        self.spent: dict[str, int] = {}  # user id: the spent total this unit staged
        self._audit = TinyAudit(self)
        self._events = events
        self.accounts_changed = False
        self._table: Table | None = None
        self.images = images
        self.image_files = TinyFiles(self, images)

    @property
    def accounts(self) -> Accounts:
        return self._accounts

    @property
    def threads(self) -> Threads:
        return self._threads

    @property
    def stats(self) -> Stats:
        return self._stats

    def summary(self, conversation_id: str) -> ThreadSummary:
        """The thread's summary as this unit sees it (its own changes included)."""
        if conversation_id in self.summaries:
            return self.summaries[conversation_id] or EMPTY
        return self.files.summaries.get(conversation_id, EMPTY)

    def set_summary(self, user_id: str, conversation_id: str, summary: ThreadSummary | None) -> None:
        """The thread's figures once this unit commits (None: its messages are gone). Kept in memory
        and stored later, stamped, by the flusher (summary_flush.py): a turn writes its history
        file alone, and a record this unit rewrites keeps the summary and stamp last stored."""
        self.summaries[conversation_id] = summary
        self.summary_owners[conversation_id] = user_id

    @property
    def search(self) -> SearchIndex:
        return self._search

    @property
    def usage(self) -> UsageLedger:
        return self.ledger

    @property
    def audit(self) -> AuditTrail:
        return self._audit

    @property
    def events(self) -> RecentEvents:
        return self._events

    @property
    def stored_files(self) -> FileStore:
        return self.image_files

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
                for conversation_id, summary in self.summaries.items():
                    if summary is None or summary.count == 0:
                        self.files.summaries.pop(conversation_id, None)
                    else:
                        self.files.summaries[conversation_id] = summary
                    # Under the owner's lock still: the flusher stamps it once this commit is whole.
                    owner = self.summary_owners[conversation_id]
                    self.files.dirty.setdefault(owner, set()).add(conversation_id)
                self.search_cache.apply(self.search_changes)
                self.credits.committed(self.spent, self.deleted_accounts)
                for user_id, conversation_ids in self.forgotten.items():
                    self.files.forget(user_id, conversation_ids)
                self.usage_index.apply(self.ledger.changes)
                self.images.apply(self.image_files.changes)
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
        # An index built in this unit may hold its abandoned changes: built again next time.
        self.search_cache.forget(self.search_built)
        self.transaction.rollback()
        if self.accounts_changed:
            self.users.abandoned()


class TinyThreads(TinyOrganising, TinyTurns, Threads):
    """A user's conversation file and thread files, under that user's lock."""

    def __init__(self, unit: TinyUnitOfWork) -> None:
        self._unit = unit
        self._files = unit.files

    # A thread's `updated_at` is the later of its record's (creation, rename) and its last
    # message's, which ThreadFiles keeps in memory (and the record's stored summary on disk), so
    # a turn changes the record's summary only, never its other fields.
    def _updated_at(self, doc: Mapping[str, Any]) -> str:
        moved = self._unit.moved.get(doc["id"]) or self._files.last_message.get(doc["id"], "")
        return max(str(doc["updated_at"]), moved)

    def _complete(self, doc: Mapping[str, Any]) -> Any:
        # Older files lack the organising fields; the size and preview live in memory (summaries.py).
        summary = self._unit.summary(doc["id"])
        record = stored_conversation(doc)
        record.update(updated_at=self._updated_at(doc), message_count=summary.count, preview=summary.preview)
        return record

    def _find(self, user_id: str, conversation_id: str) -> ConversationRecord | None:
        self._unit.lock_user(user_id)
        found = self._files.find(user_id, conversation_id)
        return None if found is None else self._complete(found)

    def page(
        self, user_id: str, *, limit: int, offset: int, query: ThreadQuery = ALL_THREADS
    ) -> Page[ConversationRecord]:
        self._unit.lock_user(user_id)
        docs = [
            {**doc, "updated_at": self._updated_at(doc)}
            for doc in self._files.conversations(user_id).shared_records()
        ]
        chosen = select_threads(docs, query)
        items = [self._complete(doc) for doc in chosen[offset : offset + limit]]
        return Page(items=items, total=len(chosen))

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
        self._files.conversations(conversation["user_id"]).insert([stored_conversation(conversation)])
        entry = title_entry(conversation)
        self._unit.search_changes.add(conversation["user_id"], lambda index: index.add(*entry))

    def rename(self, user_id: str, conversation_id: str, title: str) -> ConversationRecord | None:
        conversation = self._find(user_id, conversation_id)
        if conversation is None:
            return None
        changes = {"title": title, "updated_at": stamp_after(conversation["updated_at"])}
        self._files.conversations(user_id).update(conversation_id, changes)
        entry = title_entry({**conversation, **changes})  # type: ignore[typeddict-item]
        self._unit.search_changes.add(user_id, lambda index: index.add(*entry))
        return {**conversation, **changes}  # type: ignore[return-value]

    def retitle(self, user_id: str, conversation_id: str, title: str, *, if_title: str) -> bool:
        conversation = self._find(user_id, conversation_id)  # under the owner's lock: no rename slips in
        if conversation is None or conversation["title"] != if_title:
            return False
        self._files.conversations(user_id).update(conversation_id, {"title": title})
        entry = title_entry({**conversation, "title": title})
        self._unit.search_changes.add(user_id, lambda index: index.add(*entry))
        return True

    def delete(self, user_id: str, conversation_id: str) -> bool:
        if self._find(user_id, conversation_id) is None:
            return False
        self._files.conversations(user_id).remove(conversation_id)
        self._drop_history(user_id, conversation_id)
        self._unit.search_changes.add(
            user_id, lambda index: index.remove_conversation(conversation_id, keep_title=False)
        )
        return True

    def delete_all(self, user_id: str) -> int:
        self._unit.lock_user(user_id)
        table = self._files.conversations(user_id)
        ids = table.ids()
        if ids:
            table.truncate()
        for conversation_id in ids:
            self._drop_history(user_id, conversation_id)
        self._unit.search_changes.dropped.add(user_id)
        return len(ids)

    def _drop_history(self, user_id: str, conversation_id: str) -> None:
        self._unit.ledger.thread_dropped(user_id, conversation_id)
        self._files.drop_history(conversation_id, self._unit.transaction)
        self._unit.image_files.drop_thread(conversation_id)  # the thread's images go with its messages
        self._unit.set_summary(user_id, conversation_id, None)
        self._unit.forgotten.setdefault(user_id, []).append(conversation_id)

    def messages(
        self, user_id: str, conversation_id: str, *, limit: int, offset: int
    ) -> Page[MessageRecord] | None:
        if self._find(user_id, conversation_id) is None:
            return None
        history = self._files.history(conversation_id, user_id)
        return Page(items=history.records(offset, offset + limit), total=history.count())  # type: ignore[arg-type]

    def message_count(self, user_id: str, conversation_id: str) -> int:
        if self._find(user_id, conversation_id) is None:
            return 0
        return self._files.history(conversation_id, user_id).count()

    def recent(self, user_id: str, conversation_id: str, count: int) -> Page[MessageRecord] | None:
        if self._find(user_id, conversation_id) is None:
            return None
        history = self._files.history(conversation_id, user_id)
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
        self._files.history(conversation_id, user_id).insert(stamped)  # type: ignore[arg-type]
        self._unit.moved[conversation_id] = last
        self._unit.set_summary(user_id, conversation_id, self._unit.summary(conversation_id).plus(stamped))
        entries = [message_entry(message) for message in stamped]
        self._unit.search_changes.add(user_id, lambda index: index.add_all(entries))
        return {**conversation, "updated_at": last, **self._sized(conversation_id)}  # type: ignore[return-value]

    def clear(self, user_id: str, conversation_id: str) -> bool:
        conversation = self._find(user_id, conversation_id)
        if conversation is None:
            return False
        # The last message's time goes with the messages: the record keeps it.
        self._files.conversations(user_id).update(conversation_id, {"updated_at": conversation["updated_at"]})
        self._unit.moved.pop(conversation_id, None)
        self._drop_history(user_id, conversation_id)
        self._unit.search_changes.add(
            user_id, lambda index: index.remove_conversation(conversation_id, keep_title=True)
        )
        return True


def _plain(docs: Any) -> list[Any]:
    # TinyDB Documents carry a doc_id the rest of the app must not depend on.
    return [dict(doc) for doc in docs]
