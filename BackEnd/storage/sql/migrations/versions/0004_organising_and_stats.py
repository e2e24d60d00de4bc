"""Issue 11: a thread's organising fields, its kept size and preview, tags, and per-account stats."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Imported rather than copied, as 0002 does: a later change of the rule ships its own migration.
from BackEnd.organising import PREVIEW_CHARS, fold

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.String(80)
_STAMP = sa.String(27)


def upgrade() -> None:
    # Plain ADD COLUMN, never a batch: SQLite would copy the table, and dropping the old one
    # deletes every message by ON DELETE CASCADE.
    op.add_column(
        "conversations", sa.Column("is_favorite", sa.Boolean, nullable=False, server_default=sa.false())
    )
    op.add_column(
        "conversations", sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false())
    )
    op.add_column("conversations", sa.Column("folder", sa.Text, nullable=True))
    op.add_column("conversations", sa.Column("title_key", sa.Text, nullable=False, server_default=""))
    op.add_column("conversations", sa.Column("message_count", sa.Integer, nullable=False, server_default="0"))
    op.add_column("conversations", sa.Column("preview", sa.Text, nullable=True))
    op.create_index("ix_messages_user_created", "messages", ["user_id", "created_at"])
    op.create_table(
        "conversation_tags",
        sa.Column("conversation_id", _ID, primary_key=True),
        sa.Column("tag", sa.String(40), primary_key=True),
        sa.Column("user_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id", "user_id"],
            ["conversations.id", "conversations.user_id"],
            ondelete="CASCADE",
            name="fk_conversation_tags_conversation",
        ),
    )
    op.create_index("ix_conversation_tags_user_tag", "conversation_tags", ["user_id", "tag"])
    op.create_table(
        "user_stats",
        sa.Column(
            "user_id",
            _ID,
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_user_stats_user"),
            primary_key=True,
        ),
        sa.Column("messages", sa.Integer, nullable=False),
        sa.Column("first_message_at", _STAMP, nullable=True),
        sa.Column("last_message_at", _STAMP, nullable=True),
    )
    op.create_table(
        "user_message_days",
        sa.Column(
            "user_id",
            _ID,
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_user_message_days_user"),
            primary_key=True,
        ),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("messages", sa.Integer, nullable=False),
    )
    _fill()


def _fill() -> None:
    """Bring the kept figures up to what the messages already stored say."""
    connection = op.get_bind()
    conversations = sa.table(
        "conversations",
        sa.column("id", sa.String),
        sa.column("title", sa.Text),
        sa.column("title_key", sa.Text),
    )
    for row in connection.execute(sa.select(conversations.c.id, conversations.c.title)).all():
        connection.execute(
            sa.update(conversations).where(conversations.c.id == row.id).values(title_key=fold(row.title))
        )
    connection.execute(
        sa.text(
            "UPDATE conversations SET message_count = "
            "(SELECT count(*) FROM messages WHERE messages.conversation_id = conversations.id), "
            "preview = (SELECT substr(content, 1, :chars) FROM messages "
            "WHERE messages.conversation_id = conversations.id "
            "ORDER BY created_at DESC, seq DESC LIMIT 1)"
        ),
        {"chars": PREVIEW_CHARS},
    )
    connection.execute(
        sa.text(
            "INSERT INTO user_stats (user_id, messages, first_message_at, last_message_at) "
            "SELECT user_id, count(*), min(created_at), max(created_at) FROM messages GROUP BY user_id"
        )
    )
    connection.execute(
        sa.text(
            "INSERT INTO user_message_days (user_id, day, messages) "
            "SELECT user_id, substr(created_at, 1, 10), count(*) FROM messages "
            "GROUP BY user_id, substr(created_at, 1, 10)"
        )
    )


def downgrade() -> None:
    op.drop_table("user_message_days")
    op.drop_table("user_stats")
    op.drop_index("ix_conversation_tags_user_tag", table_name="conversation_tags")
    op.drop_table("conversation_tags")
    op.drop_index("ix_messages_user_created", table_name="messages")
    for name in ("preview", "message_count", "title_key", "folder", "archived", "is_favorite"):
        op.drop_column("conversations", name)
