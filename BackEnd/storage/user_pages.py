"""The admin list's filter and page, for backends that hold every account in memory."""

from __future__ import annotations

from ..records import UserRecord
from .base import Page

__all__ = ["matching_page"]


def matching_page(
    accounts: list[UserRecord], *, query: str, active: bool | None, limit: int, offset: int
) -> Page[UserRecord]:
    """The accounts (oldest first) whose email or name contains `query`, any case, of this activity."""
    needle = query.lower()
    found = [
        account
        for account in accounts
        if (active is None or account["is_active"] == active)
        and (needle in account["email"].lower() or needle in (account["name"] or "").lower())
    ]
    return Page(items=found[offset : offset + limit], total=len(found))
