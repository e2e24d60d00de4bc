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
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.types import JSON

__all__ = [
    "STAMP",
    "audit_events",
    "conversation_tags",
    "conversations",
    "messages",
    "metadata",
    "recent_events",
    "search_entries",
    "stored_files",
    "user_message_days",
    "usage_days",
    "user_stats",
    "users",
]

# Times stay the API's fixed-width ISO strings ("2026-01-01T00:00:00.000000Z"): string order
# is time order, and a dump round-trips byte for byte whatever the backend.
STAMP = String(27)
_ID = String(80)
# A JSON null is stored as SQL NULL, so "no preferences" and "no usage" read back as None.
_JSON = JSON(none_as_null=True)

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
    Column("preferences", _JSON, nullable=True),  # issue 9 (revision 0003)
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
    # -- organising (issue 11, revision 0004)
    Column("is_favorite", Boolean, nullable=False, server_default=false()),
    Column("archived", Boolean, nullable=False, server_default=false()),
    Column("folder", Text, nullable=True),
    # The title folded by organising.fold: the `q=` filter and the A→Z order, alike on every backend.
    Column("title_key", Text, nullable=False, server_default=""),
    # Kept by each change of the thread's messages, so the list never counts them.
    Column("message_count", Integer, nullable=False, server_default="0"),
    Column("preview", Text, nullable=True),
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
    # What answered (issue 9, revision 0003): null on user messages and on older answers.
    Column("model", Text, nullable=True),
    Column("finish_reason", String(40), nullable=True),
    Column("usage", _JSON, nullable=True),
    # Turns (issue 10, revision 0007): the question an answer replies to, and when it was edited.
    Column("reply_to", _ID, nullable=True),
    Column("edited_at", STAMP, nullable=True),
    Column("images", _JSON, nullable=True),  # issue 10 (revision 0008): [{id, url, content_type, bytes}]
    ForeignKeyConstraint(
        ["conversation_id", "user_id"],
        ["conversations.id", "conversations.user_id"],
        ondelete="CASCADE",
        name="fk_messages_conversation",
    ),
    UniqueConstraint("id", name="uq_messages_id"),
    Index("ix_messages_conversation_created", "conversation_id", "created_at", "seq"),
    # An account's first and last message after a deletion (stats), without a scan.
    Index("ix_messages_user_created", "user_id", "created_at"),
)

# -- issue 11 (revision 0004) ------------------------------------------------------------------
conversation_tags = Table(
    "conversation_tags",
    metadata,
    Column("conversation_id", _ID, primary_key=True),
    Column("tag", String(40), primary_key=True),
    Column("user_id", _ID, nullable=False),
    ForeignKeyConstraint(
        ["conversation_id", "user_id"],
        ["conversations.id", "conversations.user_id"],
        ondelete="CASCADE",
        name="fk_conversation_tags_conversation",
    ),
    Index("ix_conversation_tags_user_tag", "user_id", "tag"),
)

# An account's message figures, kept by the units of work that add or delete messages.
user_stats = Table(
    "user_stats",
    metadata,
    Column(
        "user_id",
        _ID,
        ForeignKey("users.id", ondelete="CASCADE", name="fk_user_stats_user"),
        primary_key=True,
    ),
    Column("messages", Integer, nullable=False),
    Column("first_message_at", STAMP, nullable=True),
    Column("last_message_at", STAMP, nullable=True),
)

user_message_days = Table(
    "user_message_days",
    metadata,
    Column(
        "user_id",
        _ID,
        ForeignKey("users.id", ondelete="CASCADE", name="fk_user_message_days_user"),
        primary_key=True,
    ),
    Column("day", String(10), primary_key=True),  # "YYYY-MM-DD", UTC
    Column("messages", Integer, nullable=False),
)

# The search index: one row per title and message, deleted with its thread or message by the
# foreign keys. SQLite keeps its folded words (`search_text.indexed_words`) in `words` and scans
# the user's rows; PostgreSQL keeps them only in `document`, a tsvector whose lexemes start with
# a hash of the owner (`sql/search.py`) under a GIN index: a word's postings are one user's,
# however common the word is across users.
search_entries = Table(
    "search_entries",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("user_id", _ID, nullable=False),
    Column("conversation_id", _ID, nullable=False),
    Column(
        "message_id",
        _ID,
        ForeignKey("messages.id", ondelete="CASCADE", name="fk_search_entries_message"),
        nullable=True,
    ),
    Column("created_at", STAMP, nullable=False),
    Column("words", Text, nullable=True),
    Column("document", TSVECTOR().with_variant(Text(), "sqlite"), nullable=True),
    ForeignKeyConstraint(
        ["conversation_id", "user_id"],
        ["conversations.id", "conversations.user_id"],
        ondelete="CASCADE",
        name="fk_search_entries_conversation",
    ),
    Index("ix_search_entries_user_created", "user_id", "created_at"),
    Index("ix_search_entries_conversation", "conversation_id"),
    Index("ix_search_entries_message", "message_id"),
    Index("ix_search_entries_document", "document", postgresql_using="gin"),
)

# The usage ledger (issue 9, revision 0003): one row per account, UTC day and answering model,
# upserted by each stored turn. Kept when a thread goes; gone with its account.
usage_days = Table(
    "usage_days",
    metadata,
    Column(
        "user_id", _ID, ForeignKey("users.id", ondelete="CASCADE", name="fk_usage_days_user"), nullable=False
    ),
    Column("day", String(10), nullable=False),
    Column("model", Text, nullable=False),
    Column("messages", BigInteger, nullable=False),
    Column("prompt_tokens", BigInteger, nullable=False),
    Column("completion_tokens", BigInteger, nullable=False),
    Column("total_tokens", BigInteger, nullable=False),
    Column("cost", Float, nullable=True),
    PrimaryKeyConstraint("user_id", "day", "model", name="pk_usage_days"),
    # The admin's report reads every account's rows over a range of days.
    Index("ix_usage_days_day", "day"),
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

# -- issue 10 (revision 0008) ------------------------------------------------------------------
# Message images, each stored once: its message's deletion (thread, history, account) takes it along.
stored_files = Table(
    "stored_files",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("user_id", _ID, nullable=False),
    Column("conversation_id", _ID, nullable=False),
    Column(
        "message_id",
        _ID,
        ForeignKey("messages.id", ondelete="CASCADE", name="fk_stored_files_message"),
        nullable=False,
    ),
    Column("content_type", String(40), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Index("ix_stored_files_message", "message_id"),
)
