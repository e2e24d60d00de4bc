"""What answered each message, account preferences, and the usage ledger (issue 9)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# A migration is frozen history: it spells its columns out instead of importing schema.py.
_ID = sa.String(80)


def upgrade() -> None:
    # Nullable columns without a default: PostgreSQL adds them without rewriting the table.
    op.add_column("users", sa.Column("preferences", sa.JSON(none_as_null=True), nullable=True))
    op.add_column("messages", sa.Column("model", sa.Text, nullable=True))
    op.add_column("messages", sa.Column("finish_reason", sa.String(40), nullable=True))
    op.add_column("messages", sa.Column("usage", sa.JSON(none_as_null=True), nullable=True))
    # Empty at first: answers stored before this revision carry no usage to count.
    op.create_table(
        "usage_days",
        sa.Column(
            "user_id",
            _ID,
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_usage_days_user"),
            nullable=False,
        ),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("messages", sa.BigInteger, nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger, nullable=False),
        sa.Column("completion_tokens", sa.BigInteger, nullable=False),
        sa.Column("total_tokens", sa.BigInteger, nullable=False),
        sa.Column("cost", sa.Float, nullable=True),
        sa.PrimaryKeyConstraint("user_id", "day", "model", name="pk_usage_days"),
    )
    op.create_index("ix_usage_days_day", "usage_days", ["day"])


def downgrade() -> None:
    op.drop_index("ix_usage_days_day", table_name="usage_days")
    op.drop_table("usage_days")
    with op.batch_alter_table("messages") as batch:  # SQLite drops columns by rebuilding the table
        batch.drop_column("usage")
        batch.drop_column("finish_reason")
        batch.drop_column("model")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("preferences")
