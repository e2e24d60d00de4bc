"""Turns (issue 10): the question each answer replies to, and when a message was edited."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: PostgreSQL adds them without rewriting the table. Older answers keep
    # reply_to null; each follows the question it answers, which is how the memory reads them.
    op.add_column("messages", sa.Column("reply_to", sa.String(80), nullable=True))
    op.add_column("messages", sa.Column("edited_at", sa.String(27), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:  # SQLite drops columns by rebuilding the table
        batch.drop_column("edited_at")
        batch.drop_column("reply_to")
