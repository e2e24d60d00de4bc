"""The SQL backend: PostgreSQL (or SQLite) through SQLAlchemy Core, schema managed by Alembic."""

from __future__ import annotations

from .backend import SQLDatabase
from .engine import DatabaseTimeouts, database_location
from .migrate import SCHEMA_REVISION, head_revision, migrate_url, upgrade

__all__ = [
    "SCHEMA_REVISION",
    "DatabaseTimeouts",
    "SQLDatabase",
    "database_location",
    "head_revision",
    "migrate_url",
    "upgrade",
]
