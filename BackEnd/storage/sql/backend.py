"""The SQL backend (PostgreSQL or SQLite): one transaction per call, safe for many processes."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DataError, IntegrityError

from ...errors import EmailAlreadyRegistered, RestoreError
from ...records import STAMP_FORMAT, ConversationRecord, MessageRecord, Role, UserRecord, utc_now
from ..base import Database, Dump, Page
from .dumps import MESSAGE_COLUMNS, export_all, import_all, is_empty
from .engine import DEFAULT_TIMEOUTS, DatabaseTimeouts, database_location, open_engine, transaction
from .migrate import upgrade
from .schema import conversations, messages, users

__all__ = ["SQLDatabase"]

logger = logging.getLogger(__name__)

_MICROSECOND = timedelta(microseconds=1)
_USER = tuple(users.c)
_CONVERSATION = tuple(conversations.c)
_MESSAGE = MESSAGE_COLUMNS


class SQLDatabase(Database):
    """Tables in PostgreSQL or SQLite; any number of server processes may share them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.location = database_location(engine.url)

    @classmethod
    def open(cls, url: str, timeouts: DatabaseTimeouts = DEFAULT_TIMEOUTS) -> SQLDatabase:
        """Connect and bring the schema up to date; DatabaseUnavailable names an unreachable host."""
        engine = open_engine(url, timeouts)
        try:
            upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- users ---------------------------------------------------------------------------
    def get_user(self, user_id: str) -> UserRecord | None:
        with transaction(self.engine, write=False) as db:
            return _user_where(db, users.c.id == user_id)

    def get_user_by_email(self, email: str) -> UserRecord | None:
        with transaction(self.engine, write=False) as db:
            return _user_where(db, users.c.email == email)

    def list_users(self) -> list[UserRecord]:
        with transaction(self.engine, write=False) as db:
            return _all(db.execute(select(*_USER).order_by(users.c.created_at, users.c.id)))

    def add_user(self, user: UserRecord) -> None:
        try:
            with transaction(self.engine) as db:
                db.execute(insert(users), [dict(user)])
        except IntegrityError as exc:
            raise EmailAlreadyRegistered("An account with this email already exists.") from exc

    def set_role(self, email: str, role: Role) -> UserRecord | None:
        with transaction(self.engine) as db:
            db.execute(update(users).where(users.c.email == email).values(role=role))
            return _user_where(db, users.c.email == email)

    def delete_user(self, user_id: str) -> bool:
        with transaction(self.engine) as db:  # conversations and messages go by ON DELETE CASCADE
            return db.execute(delete(users).where(users.c.id == user_id)).rowcount > 0

    # -- conversations -------------------------------------------------------------------
    def list_conversations(self, user_id: str, *, limit: int, offset: int) -> Page[ConversationRecord]:
        mine = conversations.c.user_id == user_id
        with transaction(self.engine, write=False) as db:
            total = db.execute(select(func.count()).select_from(conversations).where(mine)).scalar_one()
            rows = db.execute(
                select(*_CONVERSATION)
                .where(mine)
                .order_by(conversations.c.updated_at.desc(), conversations.c.id.desc())
                .limit(limit)
                .offset(offset)
            )
            return Page(items=_all(rows), total=total)

    def get_conversation(self, user_id: str, conversation_id: str) -> ConversationRecord | None:
        with transaction(self.engine, write=False) as db:
            return _find(db, user_id, conversation_id)

    def add_conversation(self, conversation: ConversationRecord) -> None:
        try:
            with transaction(self.engine) as db:
                db.execute(insert(conversations), [dict(conversation)])
        except IntegrityError:
            pass  # the account was deleted meanwhile: as with TinyDB, nothing is stored

    def rename_conversation(
        self, user_id: str, conversation_id: str, *, title: str, updated_at: str
    ) -> ConversationRecord | None:
        with transaction(self.engine) as db:
            db.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id, conversations.c.user_id == user_id)
                .values(title=title, updated_at=updated_at)
            )
            return _find(db, user_id, conversation_id)

    def delete_conversation(self, user_id: str, conversation_id: str) -> bool:
        with transaction(self.engine) as db:
            deleted = db.execute(
                delete(conversations).where(
                    conversations.c.id == conversation_id, conversations.c.user_id == user_id
                )
            )
            return deleted.rowcount > 0

    def delete_conversations(self, user_id: str) -> int:
        with transaction(self.engine) as db:
            return db.execute(delete(conversations).where(conversations.c.user_id == user_id)).rowcount

    # -- messages ------------------------------------------------------------------------
    def list_messages(
        self, user_id: str, conversation_id: str, *, limit: int, offset: int
    ) -> Page[MessageRecord] | None:
        thread = messages.c.conversation_id == conversation_id
        with transaction(self.engine, write=False) as db:
            if _find(db, user_id, conversation_id) is None:
                return None
            total = db.execute(select(func.count()).select_from(messages).where(thread)).scalar_one()
            rows = db.execute(
                select(*_MESSAGE)
                .where(thread)
                .order_by(messages.c.created_at, messages.c.seq)
                .limit(limit)
                .offset(offset)
            )
            return Page(items=_all(rows), total=total)

    def recent_messages(self, user_id: str, conversation_id: str, count: int) -> list[MessageRecord] | None:
        with transaction(self.engine, write=False) as db:
            if _find(db, user_id, conversation_id) is None:
                return None
            if count <= 0:
                return []
            rows = db.execute(
                select(*_MESSAGE)
                .where(messages.c.conversation_id == conversation_id)
                .order_by(messages.c.created_at.desc(), messages.c.seq.desc())
                .limit(count)
            )
            return _all(rows)[::-1]

    def clear_messages(self, user_id: str, conversation_id: str) -> bool:
        with transaction(self.engine) as db:
            if _find(db, user_id, conversation_id) is None:
                return False
            db.execute(delete(messages).where(messages.c.conversation_id == conversation_id))
            return True

    def add_turn(
        self,
        user_id: str,
        conversation_id: str,
        messages_: list[MessageRecord],
        *,
        new_conversation: ConversationRecord | None = None,
    ) -> ConversationRecord | None:
        try:
            with transaction(self.engine) as db:
                if new_conversation is None:
                    # The row lock (SELECT … FOR UPDATE; SQLite's transactions already take the
                    # write lock) queues concurrent turns of this thread, whatever process runs them.
                    conversation = _find(db, user_id, conversation_id, for_update=True)
                elif db.execute(select(exists().where(users.c.id == user_id))).scalar_one():
                    conversation = new_conversation.copy()
                else:
                    conversation = None
                if conversation is None:
                    return None
                stamps = _stamps_after(conversation["updated_at"], len(messages_))
                conversation["updated_at"] = stamps[-1]
                if new_conversation is None:
                    db.execute(
                        update(conversations)
                        .where(conversations.c.id == conversation_id)
                        .values(updated_at=conversation["updated_at"])
                    )
                else:
                    db.execute(insert(conversations), [conversation])
                db.execute(
                    insert(messages),
                    [{**message, "created_at": at} for message, at in zip(messages_, stamps, strict=True)],
                )
                return conversation
        except IntegrityError:
            return None  # the account went while this turn was being stored

    # -- whole database ------------------------------------------------------------------
    def export_dump(self) -> Dump:
        with transaction(self.engine, write=False, snapshot=True) as db:
            return export_all(db)

    def import_dump(self, dump: Dump) -> None:
        try:
            with transaction(self.engine) as db:
                if not is_empty(db):
                    raise RestoreError(
                        f"the database at {self.location} is not empty; restore needs an empty one"
                    )
                refreshed = import_all(db, dump)
        except DataError as exc:  # e.g. a NUL character, which PostgreSQL's text cannot hold
            raise RestoreError(f"the database refused a value of the dump: {exc.orig}") from exc
        if refreshed:
            logger.warning("Brought %d conversation time(s) up to their last message", refreshed)


def _user_where(db: Connection, condition: ColumnElement[bool]) -> UserRecord | None:
    found: UserRecord | None = _one(db.execute(select(*_USER).where(condition)).first())
    return found


def _find(
    db: Connection, user_id: str, conversation_id: str, *, for_update: bool = False
) -> ConversationRecord | None:
    query = select(*_CONVERSATION).where(
        conversations.c.id == conversation_id, conversations.c.user_id == user_id
    )
    found: ConversationRecord | None = _one(
        db.execute(query.with_for_update() if for_update else query).first()
    )
    return found


def _stamps_after(last: str, count: int) -> list[str]:
    # utc_now() only increases within one process; after the thread's last stamp, whoever
    # wrote it, keeps the thread in commit order across processes.
    moment = datetime.strptime(utc_now(), STAMP_FORMAT)
    try:
        moment = max(moment, datetime.strptime(last, STAMP_FORMAT) + _MICROSECOND)
    except ValueError:
        pass  # a hand-made time in a restored dump: only this process's clock orders the turn
    return [(moment + index * _MICROSECOND).strftime(STAMP_FORMAT) for index in range(count)]


def _one(row: Row[Any] | None) -> Any:
    return None if row is None else row._asdict()


def _all(rows: Any) -> list[Any]:
    return [row._asdict() for row in rows]
