"""The TinyDB unit of work's accounts (users.json, plus each account's credits file) and audit trail."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinydb import Query

from ..emails import email_key
from ..errors import EmailAlreadyRegistered
from ..records import AuditRecord, Preferences, Role, UserRecord, with_account_defaults
from .base import Accounts, AuditTrail, Page, profile_changes
from .user_pages import matching_page

if TYPE_CHECKING:
    from .tinydb_units import TinyUnitOfWork

__all__ = ["TinyAccounts", "TinyAudit"]

_BY_ID = Query().id


class TinyAccounts(Accounts):
    """Accounts in users.json; lookups inside a unit that changed them see the change."""

    def __init__(self, unit: TinyUnitOfWork) -> None:
        self._unit = unit

    def _staged(self) -> list[UserRecord] | None:
        return self._unit.users.staged_records() if self._unit.accounts_changed else None

    def _effective(self, user: UserRecord | None) -> UserRecord | None:
        # users.json holds the credits set; the account's credits file what it spent since.
        return None if user is None else self._unit.credits.effective(user, self._unit.spent)

    def _stored(self, user_id: str) -> UserRecord | None:
        staged = self._staged()
        if staged is None:
            return self._unit.users.get(user_id)
        return next((user for user in staged if user["id"] == user_id), None)

    def get(self, user_id: str) -> UserRecord | None:
        return self._effective(self._stored(user_id))

    def get_by_email(self, email: str) -> UserRecord | None:
        staged = self._staged()
        if staged is None:
            return self._effective(self._unit.users.get_by_email(email))
        key = email_key(email)
        return self._effective(next((user for user in staged if email_key(user["email"]) == key), None))

    def all(self) -> list[UserRecord]:
        staged = self._staged()
        stored = self._unit.users.all() if staged is None else staged
        return [self._unit.credits.effective(user, self._unit.spent) for user in stored]

    def add(self, user: UserRecord) -> None:
        table = self._unit.users_table()
        if self.get_by_email(user["email"]) is not None:
            raise EmailAlreadyRegistered("An account with this email already exists.")
        table.insert(dict(with_account_defaults(dict(user))))

    def set_role(self, email: str, role: Role) -> UserRecord | None:
        table = self._unit.users_table()
        found = self.get_by_email(email)
        if found is None:
            return None
        table.update({"role": role}, _BY_ID == found["id"])
        return {**found, "role": role}

    def delete(self, user_id: str) -> bool:
        self._unit.lock_user(user_id)
        table = self._unit.users_table()
        if self.get(user_id) is None:
            return False
        self._unit.threads.delete_all(user_id)
        self._unit.transaction.delete(self._unit.files.conversations_dir / f"{user_id}.json")
        self._unit.ledger.forget(user_id)
        table.remove(_BY_ID == user_id)
        self._unit.credits.stage_removal(user_id, self._unit.transaction)
        self._unit.spent.pop(user_id, None)
        self._unit.deleted_accounts.append(user_id)
        return True

    def page(self, *, query: str, active: bool | None, limit: int, offset: int) -> Page[UserRecord]:
        return matching_page(self.all(), query=query, active=active, limit=limit, offset=offset)

    def update(self, user_id: str, changes: dict[str, object]) -> UserRecord | None:
        if "credits" in changes:
            self._unit.lock_user(user_id)  # the spent file's lock, before the accounts file's
        table = self._unit.users_table()
        found = self._stored(user_id)
        if found is None:
            return None
        table.update(dict(changes), _BY_ID == user_id)
        if "credits" in changes and self._spent(user_id):  # credits set anew: nothing spent yet
            self._set_spent(user_id, 0)
        return self.get(user_id)

    def update_profile(
        self, user_id: str, *, name: str | None = None, preferences: Preferences | None = None
    ) -> UserRecord | None:
        table = self._unit.users_table()
        found = self.get(user_id)
        if found is None:
            return None
        changes = profile_changes(name, preferences)
        if changes:
            table.update(changes, _BY_ID == user_id)
        return {**found, **changes}  # type: ignore[return-value]

    def spend_credits(self, user_id: str, amount: int) -> None:
        self._unit.lock_user(user_id)
        stored = self._stored(user_id)
        if stored is None or stored["credits"] is None:
            return  # unlimited: nothing is written
        self._set_spent(user_id, self._spent(user_id) + amount)

    def _spent(self, user_id: str) -> int:
        staged = self._unit.spent.get(user_id)
        return self._unit.credits.spent(user_id) if staged is None else staged

    def _set_spent(self, user_id: str, total: int) -> None:
        self._unit.credits.stage(user_id, total)
        self._unit.spent[user_id] = total


class TinyAudit(AuditTrail):
    """The audit table of users.json, written under the accounts file's locks."""

    def __init__(self, unit: TinyUnitOfWork) -> None:
        self._unit = unit

    def append(self, event: AuditRecord) -> None:
        self._unit.users_table()
        self._unit.users.audit_table().insert(dict(event))

    def page(self, *, limit: int, offset: int) -> Page[AuditRecord]:
        events = self._unit.users.staged_audit() if self._unit.accounts_changed else self._unit.users.audit()
        newest_first = events[::-1]
        return Page(items=newest_first[offset : offset + limit], total=len(events))
