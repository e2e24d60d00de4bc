"""What an administrator does to accounts: list, change, reset, delete, read; each one audited."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ActionRefused, NotFoundError, PermissionDenied
from ..records import AuditRecord, ConversationRecord, MessageRecord, UserRecord
from ..storage import Database, Page, UnitOfWork
from .audit import audit_event

__all__ = [
    "AccountFigures",
    "AccountRow",
    "account_figures",
    "delete_account",
    "list_accounts",
    "read_user_conversations",
    "read_user_history",
    "reset_password",
    "update_account",
]

_NOT_FOUND = "User not found."
CHAT_ACCESS_OFF = "Reading users' conversations is turned off on this server (ADMIN_CHAT_ACCESS)."


@dataclass(frozen=True)
class AccountFigures:
    """How much an account has used the service."""

    conversations: int = 0
    messages: int = 0
    total_tokens: int = 0


@dataclass(frozen=True)
class AccountRow:
    """One item of the admin list: the account and its figures."""

    account: UserRecord
    figures: AccountFigures


def account_figures(unit: UnitOfWork, user_ids: list[str]) -> dict[str, AccountFigures]:
    """The figures of many accounts at once: two batched reads of counts kept up to date."""
    # On TinyDB, stats must be read from a unit that changed no account (lock order): list_accounts' is.
    totals = unit.stats.totals(user_ids)
    tokens = unit.usage.total_tokens(user_ids)
    return {
        user_id: AccountFigures(
            conversations=totals[user_id].conversations if user_id in totals else 0,
            messages=totals[user_id].messages if user_id in totals else 0,
            total_tokens=tokens.get(user_id, 0),
        )
        for user_id in user_ids
    }


def list_accounts(
    database: Database, *, query: str, active: bool | None, limit: int, offset: int
) -> Page[AccountRow]:
    """A page of accounts (oldest first) with their figures."""
    with database.unit_of_work(write=False) as unit:
        page = unit.accounts.page(query=query, active=active, limit=limit, offset=offset)
        figures = account_figures(unit, [account["id"] for account in page.items])
    rows = [AccountRow(account, figures[account["id"]]) for account in page.items]
    return Page(items=rows, total=page.total)


def _refuse_self(actor: UserRecord, user_id: str, what: str) -> None:
    if actor["id"] == user_id:
        raise ActionRefused(f"An administrator cannot {what} their own account here; ask another admin.")


def update_account(
    database: Database, actor: UserRecord, user_id: str, changes: dict[str, object]
) -> UserRecord:
    """Change an account's name, activity or credits; deactivation revokes its tokens for good."""
    if changes.get("is_active") is False:
        _refuse_self(actor, user_id, "deactivate")
    with database.unit_of_work(user_id) as unit:
        found = unit.accounts.get(user_id)
        if found is None:
            raise NotFoundError(_NOT_FOUND)
        to_set = {field: value for field, value in changes.items() if found[field] != value}  # type: ignore[literal-required]
        if to_set.get("is_active") is False:
            # Tokens of a deactivated account never work again, even after reactivation.
            to_set["token_generation"] = found["token_generation"] + 1
        updated = unit.accounts.update(user_id, to_set) if to_set else found
        for event in _change_events(actor, found, to_set):
            unit.audit.append(event)
    assert updated is not None
    return updated


def _change_events(actor: UserRecord, before: UserRecord, changes: dict[str, object]) -> list[AuditRecord]:
    events: list[AuditRecord] = []
    if "is_active" in changes:
        events.append(audit_event(actor, "reactivate" if changes["is_active"] else "deactivate", before))
    if "credits" in changes:
        detail = f"credits {_credits(before['credits'])} -> {_credits(changes['credits'])}"  # type: ignore[arg-type]
        events.append(audit_event(actor, "credits", before, detail))
    if "name" in changes:
        events.append(audit_event(actor, "rename", before, f"name {before['name']!r} -> {changes['name']!r}"))
    return events


def _credits(value: int | None) -> str:
    return "unlimited" if value is None else str(value)


def reset_password(database: Database, actor: UserRecord, user_id: str, password_hash: str) -> None:
    """Set a user's password and refuse every token issued before."""
    with database.unit_of_work(user_id) as unit:
        found = unit.accounts.get(user_id)
        if found is None:
            raise NotFoundError(_NOT_FOUND)
        unit.accounts.update(
            user_id, {"password_hash": password_hash, "token_generation": found["token_generation"] + 1}
        )
        unit.audit.append(audit_event(actor, "password_reset", found))


def delete_account(database: Database, actor: UserRecord, user_id: str) -> None:
    """Delete another account with everything it owns (never one's own here)."""
    _refuse_self(actor, user_id, "delete")
    with database.unit_of_work(user_id) as unit:
        found = unit.accounts.get(user_id)
        if found is None or not unit.accounts.delete(user_id):
            raise NotFoundError(_NOT_FOUND)
        unit.audit.append(audit_event(actor, "delete", found))


def _target(unit: UnitOfWork, user_id: str, allowed: bool) -> UserRecord:
    if not allowed:
        raise PermissionDenied(CHAT_ACCESS_OFF)
    found = unit.accounts.get(user_id)
    if found is None:
        raise NotFoundError(_NOT_FOUND)
    return found


def read_user_conversations(
    database: Database, actor: UserRecord, user_id: str, *, allowed: bool, limit: int, offset: int
) -> Page[ConversationRecord]:
    """A user's conversations as they see them (ADMIN_CHAT_ACCESS); the read is audited with it."""
    if not allowed:
        raise PermissionDenied(CHAT_ACCESS_OFF)
    with database.unit_of_work(user_id) as unit:
        target = _target(unit, user_id, allowed)
        page = unit.threads.page(user_id, limit=limit, offset=offset)
        unit.audit.append(audit_event(actor, "read_conversations", target, "conversation list"))
    return page


def read_user_history(
    database: Database,
    actor: UserRecord,
    user_id: str,
    conversation_id: str,
    *,
    allowed: bool,
    limit: int,
    offset: int,
) -> Page[MessageRecord]:
    """A page of one of a user's threads (ADMIN_CHAT_ACCESS); the read is audited with it."""
    if not allowed:
        raise PermissionDenied(CHAT_ACCESS_OFF)
    with database.unit_of_work(user_id) as unit:
        target = _target(unit, user_id, allowed)
        page = unit.threads.messages(user_id, conversation_id, limit=limit, offset=offset)
        if page is None:
            raise NotFoundError("Conversation not found.")
        unit.audit.append(audit_event(actor, "read_history", target, f"conversation {conversation_id}"))
    return page
