"""Alembic's entry point: run the migrations on the connection `migrate.upgrade` passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from BackEnd.storage.sql.schema import metadata

connection: Connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
