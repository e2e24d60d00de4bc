"""The audit trail's events: who did what to which account. Never a password or a token."""

from __future__ import annotations

from ..records import AuditRecord, UserRecord, utc_now
from ..storage import Database, Page

__all__ = ["audit_event", "audit_page"]


def audit_event(
    actor: UserRecord | None, action: str, target: UserRecord | None, detail: str = ""
) -> AuditRecord:
    """An event by `actor` (None: the command line) about `target` (None: no single account)."""
    return {
        "at": utc_now(),
        "actor_id": actor["id"] if actor else None,
        "actor_email": actor["email"] if actor else None,
        "action": action,
        "target_id": target["id"] if target else None,
        "target_email": target["email"] if target else None,
        "detail": detail,
    }


def audit_page(database: Database, *, limit: int, offset: int) -> Page[AuditRecord]:
    """The trail, newest first."""
    with database.unit_of_work(write=False) as unit:
        return unit.audit.page(limit=limit, offset=offset)
