"""The SQL tables (SQLAlchemy Core); migrations/ holds the history that builds them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
    true,
)

__all__ = ["STAMP", "audit_events", "conversations", "messages", "metadata", "recent_events", "users"]

# Times stay the API's fixed-width ISO strings ("2026-01-01T00:00:00.000000Z"): string order
# is time order, and a dump round-trips byte for byte whatever the backend.
STAMP = String(27)
_ID = String(80)

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("email", Text, nullable=False),
    Column("name", Text, nullable=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", STAMP, nullable=False),
    # -- classroom fields (issue 12, migration 0006)
    Column("is_active", Boolean, nullable=False, server_default=true()),
    Column("last_login_at", STAMP, nullable=True),
    Column("credits", BigInteger, nullable=True),
    Column("token_generation", Integer, nullable=False, server_default=text("0")),
    UniqueConstraint("email", name="uq_users_email"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", _ID, primary_key=True),
    Column(
        "user_id",
        _ID,
        ForeignKey("users.id", ondelete="CASCADE", name="fk_conversations_user"),
        nullable=False,
    ),
    Column("title", Text, nullable=False),
    Column("created_at", STAMP, nullable=False),
    Column("updated_at", STAMP, nullable=False),
    Index("ix_conversations_user_updated", "user_id", "updated_at"),
    # The target of messages' (conversation_id, user_id): a message's owner is its thread's.
    UniqueConstraint("id", "user_id", name="uq_conversations_id_user"),
)

messages = Table(
    "messages",
    metadata,
    # Insertion order: the tiebreak of two messages stamped with the same time.
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("id", _ID, nullable=False),
    Column("conversation_id", _ID, nullable=False),
    Column("user_id", _ID, nullable=False),
    Column("role", String(16), nullable=False),
    Column("content", Text, nullable=False),
    Column("created_at", STAMP, nullable=False),
    ForeignKeyConstraint(
        ["conversation_id", "user_id"],
        ["conversations.id", "conversations.user_id"],
        ondelete="CASCADE",
        name="fk_messages_conversation",
    ),
    UniqueConstraint("id", name="uq_messages_id"),
    Index("ix_messages_conversation_created", "conversation_id", "created_at", "seq"),
)

# Administrative actions; no foreign key: an action outlives the accounts it names.
audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", STAMP, nullable=False),
    Column("actor_id", _ID, nullable=True),
    Column("actor_email", Text, nullable=True),
    Column("action", String(40), nullable=False),
    Column("target_id", _ID, nullable=True),
    Column("target_email", Text, nullable=True),
    Column("detail", Text, nullable=False),
)

# Login failures and chat turns, by key, in seconds since the epoch: the throttles' shared state.
recent_events = Table(
    "recent_events",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("key", Text, nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_recent_events_key_at", "key", "at"),
)
