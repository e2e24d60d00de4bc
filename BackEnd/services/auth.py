"""Accounts: registration, login, token checks and deletion."""

from __future__ import annotations

from typing import Any

import anyio

from ..config import Settings
from ..emails import email_key
from ..errors import AuthenticationError, InvalidCredentials, NotFoundError
from ..records import Preferences, UserRecord, new_id, utc_now
from ..security import PasswordHasher, TokenCodec
from ..storage import Database
from .chat_options import check_model_allowed, preferences_of

__all__ = [
    "authenticate",
    "delete_user",
    "find_user_by_email",
    "list_users",
    "register",
    "update_profile",
    "user_from_token",
]


async def register(
    database: Database, hasher: PasswordHasher, *, email: str, password: str, name: str | None
) -> UserRecord:
    """Create an account; the role is always `user`, whatever the client asked for."""
    user: UserRecord = {
        "id": new_id("usr"),
        "email": email,
        "name": name or email.split("@", 1)[0],
        "role": "user",
        "password_hash": await hasher.hash(password),
        "created_at": utc_now(),
    }
    await anyio.to_thread.run_sync(_add_user, database, user)
    return user


def _add_user(database: Database, user: UserRecord) -> None:
    with database.unit_of_work() as unit:
        unit.accounts.add(user)


async def authenticate(
    database: Database, hasher: PasswordHasher, *, email: str, password: str
) -> UserRecord:
    """The account these credentials open; InvalidCredentials, in the same time, otherwise."""
    user = await anyio.to_thread.run_sync(find_user_by_email, database, email_key(email))
    if not await hasher.verify(password, user["password_hash"] if user else None) or user is None:
        raise InvalidCredentials("Incorrect email or password.")
    return user


def user_from_token(database: Database, tokens: TokenCodec, token: str | None) -> UserRecord:
    """The account behind a bearer token, read fresh so a role change or deletion shows at once."""
    if not token:
        raise AuthenticationError("Not authenticated.")
    subject = tokens.subject(token)
    with database.unit_of_work(write=False) as unit:
        user = unit.accounts.get(subject)
    if user is None:
        raise AuthenticationError("Invalid or expired token.")
    return user


def find_user_by_email(database: Database, email: str) -> UserRecord | None:
    """The account with this (normalised) email, if any."""
    with database.unit_of_work(write=False) as unit:
        return unit.accounts.get_by_email(email)


def list_users(database: Database) -> list[UserRecord]:
    """Every account, oldest first."""
    with database.unit_of_work(write=False) as unit:
        return unit.accounts.all()


def update_profile(
    database: Database,
    settings: Settings,
    user_id: str,
    *,
    name: str | None,
    preference_changes: dict[str, Any] | None,
) -> UserRecord:
    """Change the caller's name and the preferences named in `preference_changes` (None: unset one).

    The model must be one ALLOWED_MODELS lists (422 otherwise), as on the chat routes.
    """
    model = (preference_changes or {}).get("model")
    if model is not None:
        check_model_allowed(settings, model, ("body", "preferences", "model"))
    with database.unit_of_work(user_id) as unit:
        current = unit.accounts.get(user_id)
        if current is None:
            raise AuthenticationError("Invalid or expired token.")  # the account went meanwhile
        preferences: Preferences | None = None
        if preference_changes is not None:
            preferences = {**preferences_of(current), **preference_changes}  # type: ignore[assignment]
        updated = unit.accounts.update_profile(user_id, name=name, preferences=preferences)
    if updated is None:
        raise AuthenticationError("Invalid or expired token.")
    return updated


def delete_user(database: Database, user_id: str) -> None:
    """Delete an account with everything it owns."""
    with database.unit_of_work(user_id) as unit:
        deleted = unit.accounts.delete(user_id)
    if not deleted:
        raise NotFoundError("User not found.")
