"""Message images (issue 10): the messages' `images` column and the stored_files table."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: SQLite's batch mode would copy `messages` into a new table, and dropping
    # the old one (foreign keys on) would cascade to the rows that refer to it.
    op.add_column("messages", sa.Column("images", sa.JSON(none_as_null=True), nullable=True))
    op.create_table(
        "stored_files",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("user_id", sa.String(80), nullable=False),
        sa.Column("conversation_id", sa.String(80), nullable=False),
        sa.Column(
            "message_id",
            sa.String(80),
            sa.ForeignKey("messages.id", ondelete="CASCADE", name="fk_stored_files_message"),
            nullable=False,
        ),
        sa.Column("content_type", sa.String(40), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_stored_files_message", "stored_files", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_stored_files_message", table_name="stored_files")
    op.drop_table("stored_files")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("images")
