"""The SQL unit of work: one transaction, and the accounts and threads read and changed in it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, delete, func, insert, or_, select, true, update
from sqlalchemy.exc import IntegrityError

from ...errors import EmailAlreadyRegistered
from ...records import (
    ACCOUNT_DEFAULTS,
    ConversationRecord,
    MessageRecord,
    Preferences,
    Role,
    UserRecord,
    stamp_after,
)
from ..base import (
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
    profile_changes,
)
from ..file_store import FileStore
from . import search
from .classroom import SQLAudit, SQLEvents
from .dumps import MESSAGE_COLUMNS, user_from_row
from .engine import integrity_violation
from .files import SQLFiles
from .organise import (
    CONVERSATION_COLUMNS,
    SQLOrganising,
    conversation_row,
    set_tags,
    tags_of,
    thread_filter,
    thread_order,
)
from .schema import conversations, messages, users
from .stats import SQLStats
from .turns import replace_turn
from .usage import SQLUsageLedger

__all__ = ["SQLUnitOfWork"]

_USER = tuple(users.c)
_CONVERSATION = CONVERSATION_COLUMNS
# Fields an account update may set: never its id, email or role.
_UPDATABLE = frozenset({"name", "password_hash", "is_active", "last_login_at", "credits", "token_generation"})


class SQLUnitOfWork(UnitOfWork):
    """Everything done through it belongs to one database transaction."""

    def __init__(self, db: Connection) -> None:
        self._stats = SQLStats(db)
        self._accounts = SQLAccounts(db)
        self._threads = SQLThreads(db, self._stats)
        self._search = search.SQLSearch(db)
        self._usage = SQLUsageLedger(db)
        self._audit = SQLAudit(db)
        self._events = SQLEvents(db)
        self._files = SQLFiles(db)

    @property
    def accounts(self) -> Accounts:
        return self._accounts

    @property
    def threads(self) -> Threads:
        return self._threads

    @property
    def stats(self) -> Stats:
        return self._stats

    @property
    def search(self) -> SearchIndex:
        return self._search

    @property
    def usage(self) -> UsageLedger:
        return self._usage

    @property
    def audit(self) -> AuditTrail:
        return self._audit

    @property
    def events(self) -> RecentEvents:
        return self._events

    @property
    def stored_files(self) -> FileStore:
        return self._files


class SQLAccounts(Accounts):
    """The `users` table."""

    def __init__(self, db: Connection) -> None:
        self._db = db

    def get(self, user_id: str) -> UserRecord | None:
        return _user_where(self._db, users.c.id == user_id)

    def get_by_email(self, email: str) -> UserRecord | None:
        return _user_where(self._db, users.c.email == email)

    def all(self) -> list[UserRecord]:
        rows = self._db.execute(select(*_USER).order_by(users.c.created_at, users.c.id))
        return [user_from_row(row) for row in rows]

    def add(self, user: UserRecord) -> None:
        # A savepoint, so a taken email leaves the rest of the unit usable.
        try:
            with self._db.begin_nested():
                self._db.execute(insert(users), [{**ACCOUNT_DEFAULTS, **user}])
        except IntegrityError as exc:
            if integrity_violation(exc).columns != {"users.email"}:
                raise  # a repeated id is a fault, not the caller's: the unit of work maps it
            raise EmailAlreadyRegistered("An account with this email already exists.") from exc

    def set_role(self, email: str, role: Role) -> UserRecord | None:
        self._db.execute(update(users).where(users.c.email == email).values(role=role))
        return _user_where(self._db, users.c.email == email)

    def delete(self, user_id: str) -> bool:
        # Conversations, messages, their search entries and usage go by ON DELETE CASCADE.
        return self._db.execute(delete(users).where(users.c.id == user_id)).rowcount > 0

    def update_profile(
        self, user_id: str, *, name: str | None = None, preferences: Preferences | None = None
    ) -> UserRecord | None:
        changes = profile_changes(name, preferences)
        if changes:
            self._db.execute(update(users).where(users.c.id == user_id).values(**changes))
        return self.get(user_id)

    def page(self, *, query: str, active: bool | None, limit: int, offset: int) -> Page[UserRecord]:
        conditions: list[ColumnElement[bool]] = []
        if query:
            needle = query.lower()
            conditions.append(
                or_(
                    func.lower(users.c.email).contains(needle, autoescape=True),
                    func.lower(func.coalesce(users.c.name, "")).contains(needle, autoescape=True),
                )
            )
        if active is not None:
            conditions.append(users.c.is_active == active)
        where = conditions or [true()]
        total = self._db.execute(select(func.count()).select_from(users).where(*where)).scalar_one()
        rows = self._db.execute(
            select(*_USER).where(*where).order_by(users.c.created_at, users.c.id).limit(limit).offset(offset)
        )
        return Page(items=[user_from_row(row) for row in rows], total=total)

    def update(self, user_id: str, changes: dict[str, object]) -> UserRecord | None:
        assert _UPDATABLE.issuperset(changes), "an account's id, email and role are not updated here"
        if changes:
            self._db.execute(update(users).where(users.c.id == user_id).values(**changes))
        return _user_where(self._db, users.c.id == user_id)

    def spend_credits(self, user_id: str, amount: int) -> None:
        # One statement: parallel turns of one account each subtract their own amount.
        self._db.execute(
            update(users)
            .where(users.c.id == user_id, users.c.credits.is_not(None))
            .values(credits=users.c.credits - amount)
        )


class SQLThreads(SQLOrganising, Threads):
    """The `conversations` and `messages` tables, every query scoped to the owner."""

    def __init__(self, db: Connection, stats: SQLStats) -> None:
        self._db = db
        self._stats = stats

    def _find(
        self, user_id: str, conversation_id: str, *, for_update: bool = False
    ) -> ConversationRecord | None:
        query = select(*_CONVERSATION).where(
            conversations.c.id == conversation_id, conversations.c.user_id == user_id
        )
        # The row lock (SELECT … FOR UPDATE; SQLite's write transactions already serialise)
        # queues concurrent changes of one thread, whatever process makes them.
        found: ConversationRecord | None = _one(
            self._db.execute(query.with_for_update() if for_update else query).first()
        )
        return found

    def page(
        self, user_id: str, *, limit: int, offset: int, query: ThreadQuery = ALL_THREADS
    ) -> Page[ConversationRecord]:
        where = thread_filter(user_id, query)
        total = self._db.execute(select(func.count()).select_from(conversations).where(*where)).scalar_one()
        rows = self._db.execute(
            select(*_CONVERSATION)
            .where(*where)
            .order_by(*thread_order(query, self._db.dialect.name))
            .limit(limit)
            .offset(offset)
        )
        items = _all(rows)
        tags = tags_of(self._db, [item["id"] for item in items])
        for item in items:
            item["tags"] = tags.get(item["id"], [])
        return Page(items=items, total=total)

    def count(self, user_id: str) -> int:
        mine = conversations.c.user_id == user_id
        total: int = self._db.execute(
            select(func.count()).select_from(conversations).where(mine)
        ).scalar_one()
        return total

    def get(self, user_id: str, conversation_id: str) -> ConversationRecord | None:
        return self._tagged(self._find(user_id, conversation_id))  # type: ignore[no-any-return]

    def add(self, conversation: ConversationRecord) -> None:
        self._db.execute(insert(conversations), [conversation_row(conversation)])
        search.add_title(self._db, conversation)
        set_tags(self._db, conversation["user_id"], conversation["id"], conversation.get("tags") or [])

    def rename(self, user_id: str, conversation_id: str, title: str) -> ConversationRecord | None:
        conversation = self._find(user_id, conversation_id, for_update=True)
        if conversation is None:
            return None
        changes = {"title": title, "updated_at": stamp_after(conversation["updated_at"])}
        self._db.execute(
            update(conversations)
            .where(conversations.c.id == conversation_id)
            .values(**changes, title_key=conversation_row({"title": title})["title_key"])
        )
        search.rename_title(self._db, conversation, title)
        return self._tagged({**conversation, **changes})  # type: ignore[no-any-return]

    def retitle(self, user_id: str, conversation_id: str, title: str, *, if_title: str) -> bool:
        conversation = self._find(user_id, conversation_id, for_update=True)  # the latest title, locked
        if conversation is None or conversation["title"] != if_title:
            return False
        self._db.execute(
            update(conversations)
            .where(conversations.c.id == conversation_id, conversations.c.title == if_title)
            .values(title=title, title_key=conversation_row({"title": title})["title_key"])
        )
        search.rename_title(self._db, conversation, title)
        return True

    def delete(self, user_id: str, conversation_id: str) -> bool:
        if self._find(user_id, conversation_id, for_update=True) is None:
            return False
        self._stats.removing(user_id, conversation_id)
        self._db.execute(
            delete(conversations).where(
                conversations.c.id == conversation_id, conversations.c.user_id == user_id
            )
        )
        self._stats.settle(user_id)
        return True

    def delete_all(self, user_id: str) -> int:
        self._stats.forget(user_id)
        return self._db.execute(delete(conversations).where(conversations.c.user_id == user_id)).rowcount

    def messages(
        self, user_id: str, conversation_id: str, *, limit: int, offset: int
    ) -> Page[MessageRecord] | None:
        conversation = self._find(user_id, conversation_id)
        if conversation is None:
            return None
        # The thread's size is kept on its row: counting a 5,000-message thread's rows would
        # visit every one of them, and a page must cost the same in a long thread as a short one.
        total = conversation["message_count"]
        thread = messages.c.conversation_id == conversation_id
        tail = max(total - offset - limit, 0)
        if offset > tail:  # nearer the end: walk the index from the end, so the last page is cheap
            rows = self._db.execute(
                select(*MESSAGE_COLUMNS)
                .where(thread)
                .order_by(messages.c.created_at.desc(), messages.c.seq.desc())
                .limit(max(min(limit, total - offset), 0))
                .offset(tail)
            )
            return Page(items=_all(rows)[::-1], total=total)
        rows = self._db.execute(
            select(*MESSAGE_COLUMNS)
            .where(thread)
            .order_by(messages.c.created_at, messages.c.seq)
            .limit(limit)
            .offset(offset)
        )
        return Page(items=_all(rows), total=total)

    def message_count(self, user_id: str, conversation_id: str) -> int:
        conversation = self._find(user_id, conversation_id)
        return 0 if conversation is None else conversation["message_count"]

    def recent(self, user_id: str, conversation_id: str, count: int) -> Page[MessageRecord] | None:
        conversation = self._find(user_id, conversation_id)
        if conversation is None:
            return None
        total = conversation["message_count"]
        if count <= 0:
            return Page(items=[], total=total)
        rows = self._db.execute(
            select(*MESSAGE_COLUMNS)
            .where(messages.c.conversation_id == conversation_id)
            .order_by(messages.c.created_at.desc(), messages.c.seq.desc())
            .limit(count)
        )
        return Page(items=_all(rows)[::-1], total=total)

    def append(
        self, user_id: str, conversation_id: str, messages_: list[MessageRecord]
    ) -> ConversationRecord | None:
        conversation = self._find(user_id, conversation_id, for_update=True)
        if conversation is None:
            return None
        stamped: list[dict[str, Any]] = []
        last = conversation["updated_at"]
        for message in messages_:
            last = stamp_after(last)
            stamped.append({**message, "created_at": last})
        if not stamped:
            return self._tagged(conversation)  # type: ignore[no-any-return]
        # Stamped after every stored message: the newest, so the preview needs no look at the thread.
        return self._stored(conversation, stamped, last, newest=True)  # type: ignore[no-any-return]

    def replace_last_turn(
        self,
        user_id: str,
        conversation_id: str,
        question: MessageRecord,
        replaced: Sequence[str],
        answers: list[MessageRecord],
    ) -> ConversationRecord | None:
        conversation = self._find(user_id, conversation_id, for_update=True)
        if conversation is None:
            return None
        changes, added = replace_turn(self._db, conversation, question, replaced, answers)
        self._stats.added(user_id, added)
        self._stats.settle(user_id)  # answers may have gone: drop emptied days
        return self._tagged({**conversation, **changes})  # type: ignore[no-any-return]

    def clear(self, user_id: str, conversation_id: str) -> bool:
        if self._find(user_id, conversation_id, for_update=True) is None:
            return False
        self._stats.removing(user_id, conversation_id)
        self._db.execute(delete(messages).where(messages.c.conversation_id == conversation_id))
        self._db.execute(
            update(conversations)
            .where(conversations.c.id == conversation_id)
            .values(message_count=0, preview=None)
        )
        self._stats.settle(user_id)
        return True


def _user_where(db: Connection, condition: ColumnElement[bool]) -> UserRecord | None:
    row = db.execute(select(*_USER).where(condition)).first()
    return None if row is None else user_from_row(row)


def _one(row: Row[Any] | None) -> Any:
    return None if row is None else row._asdict()


def _all(rows: Any) -> list[Any]:
    return [row._asdict() for row in rows]
