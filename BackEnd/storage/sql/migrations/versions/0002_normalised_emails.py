"""Every account's email in its one normalised form, so `uq_users_email` is unique per address."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# The rules of the day, imported rather than copied: should they change, the change ships its
# own migration, which starts from what this one stored.
from BackEnd.emails import email_key
from BackEnd.errors import MigrationError

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_users = sa.table("users", sa.column("id", sa.String), sa.column("email", sa.Text))


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(_users.c.id, _users.c.email).order_by(_users.c.id)).all()
    owners: dict[str, list[str]] = {}
    for row in rows:
        owners.setdefault(email_key(row.email), []).append(row.id)
    shared = sorted((email, ids) for email, ids in owners.items() if len(ids) > 1)
    if shared:
        email, ids = shared[0]
        raise MigrationError(
            f"cannot migrate the database to revision {revision}: accounts {', '.join(ids)} have the "
            f"same email {email!r} once normalised ({len(shared)} such email(s) in all); delete or "
            "rename all but one of each (nothing was changed), then run `python main.py migrate` again"
        )
    for row in rows:
        # email_key never refuses: an address today's rules would not accept at sign-up still
        # gets its one lookup form, and its owner can still log in.
        normalised = email_key(row.email)
        if normalised != row.email:
            connection.execute(sa.update(_users).where(_users.c.id == row.id).values(email=normalised))


def downgrade() -> None:
    # The spellings that were folded together are gone; the normalised ones work on 0001 too.
    pass
