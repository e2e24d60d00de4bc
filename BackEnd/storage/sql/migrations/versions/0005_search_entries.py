"""The search index: `search_entries` (folded words of each title and message), filled from what is stored.

On PostgreSQL, a GIN index over (user_id, to_tsvector('simple', words)) answers a user's word
prefixes without a scan; it needs the btree_gin extension for the user column, and falls back
to the text search vector alone where the server does not offer btree_gin.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# The folding rules of the day, imported rather than copied (as 0002 does for emails): should they
# change, the change ships its own migration that rebuilds the words.
from BackEnd.search_text import indexed_words

revision = "0005"
down_revision = "0002"
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
        sa.Column("words", sa.Text, nullable=False),
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
    connection = op.get_bind()
    titles = connection.execute(sa.select(_conversations).order_by(_conversations.c.id)).all()
    _insert(entries, [_entry(row.user_id, row.id, None, row.created_at, row.title) for row in titles])
    last = -1
    while True:  # in batches: a large history never sits in memory at once
        rows = connection.execute(
            sa.select(_messages).where(_messages.c.seq > last).order_by(_messages.c.seq).limit(_BATCH)
        ).all()
        if not rows:
            break
        _insert(
            entries,
            [_entry(row.user_id, row.conversation_id, row.id, row.created_at, row.content) for row in rows],
        )
        last = rows[-1].seq
    if connection.dialect.name == "postgresql":
        available = connection.execute(
            sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'btree_gin'")
        ).first()
        if available is not None:
            op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
        columns = "user_id, " if available is not None else ""
        op.execute(
            "CREATE INDEX ix_search_entries_document ON search_entries "
            f"USING gin ({columns}to_tsvector('simple'::regconfig, words))"
        )


def _entry(
    user_id: str, conversation_id: str, message_id: str | None, created_at: str, text: str
) -> dict[str, object]:
    return {
        "user_id": user_id,
        "conversation_id": conversation_id,
        "message_id": message_id,
        "created_at": created_at,
        "words": indexed_words(text),
    }


def _insert(entries: sa.Table, rows: list[dict[str, object]]) -> None:
    for start in range(0, len(rows), _BATCH):
        op.get_bind().execute(sa.insert(entries), rows[start : start + _BATCH])


def downgrade() -> None:
    op.drop_table("search_entries")
