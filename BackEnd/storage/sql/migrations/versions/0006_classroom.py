"""Classroom accounts (is_active, last_login_at, credits, token_generation), audit trail, throttles."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ALTER TABLE … ADD COLUMN, never a rebuild: SQLite rebuilds by dropping `users`, and with
    # foreign keys on (inside the migration's transaction they cannot be turned off) the drop
    # cascaded to every conversation and message.
    with op.batch_alter_table("users", recreate="never") as batch:
        batch.add_column(sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("last_login_at", sa.String(27), nullable=True))
        batch.add_column(sa.Column("credits", sa.BigInteger(), nullable=True))
        batch.add_column(
            sa.Column("token_generation", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
    op.create_table(
        "audit_events",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("at", sa.String(27), nullable=False),
        sa.Column("actor_id", sa.String(80), nullable=True),
        sa.Column("actor_email", sa.Text(), nullable=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target_id", sa.String(80), nullable=True),
        sa.Column("target_email", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_table(
        "recent_events",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
    )
    op.create_index("ix_recent_events_key_at", "recent_events", ["key", "at"])


def downgrade() -> None:
    op.drop_index("ix_recent_events_key_at", table_name="recent_events")
    op.drop_table("recent_events")
    op.drop_table("audit_events")
    with op.batch_alter_table("users") as batch:
        for column in ("token_generation", "credits", "last_login_at", "is_active"):
            batch.drop_column(column)
