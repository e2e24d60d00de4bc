"""The search index: `search_entries` (folded words of each title and message), filled from what is stored.

On PostgreSQL `document` holds the words as a tsvector of owner-prefixed lexemes under a GIN
index (see `BackEnd/storage/sql/search.py`); SQLite leaves it NULL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

# The folding rules and lexemes of the day, imported rather than copied (as 0002 does for emails):
# should they change, the change ships its own migration that rebuilds the entries.
from BackEnd.storage.sql.search import entries_for

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.String(80)
_STAMP = sa.String(27)
_BATCH = 5_000
_conversations = sa.table(
    "conversations",
    sa.column("id", sa.String),
    sa.column("user_id", sa.String),
    sa.column("title", sa.Text),
    sa.column("created_at", sa.String),
)
_messages = sa.table(
    "messages",
    sa.column("seq", sa.BigInteger),
    sa.column("id", sa.String),
    sa.column("conversation_id", sa.String),
    sa.column("user_id", sa.String),
    sa.column("content", sa.Text),
    sa.column("created_at", sa.String),
)


def upgrade() -> None:
    entries = op.create_table(
        "search_entries",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("conversation_id", _ID, nullable=False),
        sa.Column(
            "message_id",
            _ID,
            sa.ForeignKey("messages.id", ondelete="CASCADE", name="fk_search_entries_message"),
            nullable=True,
        ),
        sa.Column("created_at", _STAMP, nullable=False),
        sa.Column("words", sa.Text, nullable=True),
        sa.Column("document", TSVECTOR().with_variant(sa.Text(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id", "user_id"],
            ["conversations.id", "conversations.user_id"],
            ondelete="CASCADE",
            name="fk_search_entries_conversation",
        ),
    )
    assert entries is not None
    op.create_index("ix_search_entries_user_created", "search_entries", ["user_id", "created_at"])
    op.create_index("ix_search_entries_conversation", "search_entries", ["conversation_id"])
    op.create_index("ix_search_entries_message", "search_entries", ["message_id"])
    op.create_index("ix_search_entries_document", "search_entries", ["document"], postgresql_using="gin")
    connection = op.get_bind()
    postgresql = connection.dialect.name == "postgresql"
    titles = connection.execute(sa.select(_conversations).order_by(_conversations.c.id)).all()
    _insert(entries, entries_for([row._asdict() for row in titles], [], postgresql=postgresql))  # type: ignore[misc]
    last = -1
    while True:  # in batches: a large history never sits in memory at once
        rows = connection.execute(
            sa.select(_messages).where(_messages.c.seq > last).order_by(_messages.c.seq).limit(_BATCH)
        ).all()
        if not rows:
            break
        _insert(entries, entries_for([], [row._asdict() for row in rows], postgresql=postgresql))  # type: ignore[misc]
        last = rows[-1].seq


def _insert(entries: sa.Table, rows: list[dict[str, object]]) -> None:
    for start in range(0, len(rows), _BATCH):
        op.get_bind().execute(sa.insert(entries), rows[start : start + _BATCH])


def downgrade() -> None:
    op.drop_table("search_entries")
