"""Accounts: registration, login, token checks, password changes and deletion."""

from __future__ import annotations

from typing import Any

import anyio

from ..config import Settings
from ..emails import email_key
from ..errors import (
    AccountDisabled,
    AuthenticationError,
    InvalidCredentials,
    InvalidRequest,
    LoginRefused,
    NotFoundError,
    PermissionDenied,
)
from ..records import Preferences, UserRecord, new_id, utc_now
from ..security import PasswordHasher, TokenCodec
from ..storage import Database
from .chat_options import check_model_allowed, preferences_of
from .classroom_limits import DISABLED, LoginRules, check_login_allowed, login_failed, login_succeeded

__all__ = [
    "authenticate",
    "bump_token_generation",
    "change_own_password",
    "check_email_domain",
    "check_signup",
    "delete_user",
    "find_user_by_email",
    "list_users",
    "new_account",
    "register",
    "update_profile",
    "user_from_token",
]

SIGNUP_CLOSED = "Sign-up is closed; ask your teacher for an account."


def new_account(email: str, name: str | None, password_hash: str, credits: int | None) -> UserRecord:
    """A new `user` account (never admin), active, with `credits` (None: unlimited)."""
    return {
        "id": new_id("usr"),
        "email": email,
        "name": name or email.split("@", 1)[0],
        "role": "user",
        "password_hash": password_hash,
        "created_at": utc_now(),
        "is_active": True,
        "last_login_at": None,
        "credits": credits,
        "token_generation": 0,
    }


def check_email_domain(allowed_domains: list[str], email: str) -> None:
    """InvalidRequest unless the (normalised) email's domain is one of ALLOWED_EMAIL_DOMAINS, exactly."""
    if allowed_domains and email.rsplit("@", 1)[-1] not in allowed_domains:
        raise InvalidRequest(
            f"Only addresses of these domains may have an account (ALLOWED_EMAIL_DOMAINS): "
            f"{', '.join(allowed_domains)}."
        )


def check_signup(allow_signup: bool, allowed_domains: list[str], email: str) -> None:
    """Whether public sign-up takes this email: 403 when closed, 422 for another domain."""
    if not allow_signup:
        raise PermissionDenied(SIGNUP_CLOSED)
    check_email_domain(allowed_domains, email)


async def register(
    database: Database,
    hasher: PasswordHasher,
    *,
    email: str,
    password: str,
    name: str | None,
    credits: int | None = None,
) -> UserRecord:
    """Create an account; the role is always `user`, whatever the client asked for."""
    user = new_account(email, name, await hasher.hash(password), credits)
    await anyio.to_thread.run_sync(_add_user, database, user)
    return user


def _add_user(database: Database, user: UserRecord) -> None:
    with database.unit_of_work() as unit:
        unit.accounts.add(user)


async def authenticate(
    database: Database,
    hasher: PasswordHasher,
    *,
    email: str,
    password: str,
    address: str = "",
    rules: LoginRules | None = None,
) -> UserRecord:
    """The account these credentials open; InvalidCredentials, in the same time, otherwise.

    With `rules`, a throttled email or address is refused (429) before the password is
    checked, and a wrong password counts against both. A deactivated account's right
    password answers 403; a wrong one stays the usual 401.
    """
    key = email_key(email)
    if rules is not None:
        await anyio.to_thread.run_sync(check_login_allowed, database, rules, key, address)
    user = await anyio.to_thread.run_sync(find_user_by_email, database, key)
    if not await hasher.verify(password, user["password_hash"] if user else None) or user is None:
        if rules is not None:
            await anyio.to_thread.run_sync(login_failed, database, key, address)
        raise InvalidCredentials("Incorrect email or password.")
    if not user["is_active"]:
        raise LoginRefused(DISABLED)
    return await anyio.to_thread.run_sync(_logged_in, database, user, key)


def _logged_in(database: Database, user: UserRecord, key: str) -> UserRecord:
    with database.unit_of_work(user["id"]) as unit:
        login_succeeded(unit, key)
        found = unit.accounts.update(user["id"], {"last_login_at": utc_now()})
    if found is None:
        raise InvalidCredentials("Incorrect email or password.")
    return found


def user_from_token(database: Database, tokens: TokenCodec, token: str | None) -> UserRecord:
    """The account behind a bearer token, read fresh so a role change, deactivation or revocation shows at once."""
    if not token:
        raise AuthenticationError("Not authenticated.")
    subject, generation = tokens.subject(token)
    with database.unit_of_work(write=False) as unit:
        user = unit.accounts.get(subject)
    if user is None:
        raise AuthenticationError("Invalid or expired token.")
    if not user["is_active"]:
        raise AccountDisabled(DISABLED)
    if generation != user["token_generation"]:
        raise AuthenticationError("Invalid or expired token.")
    return user


def bump_token_generation(
    database: Database, user_id: str, changes: dict[str, object] | None = None
) -> UserRecord:
    """Refuse every token issued so far for the account, with `changes` in the same unit of work."""
    with database.unit_of_work(user_id) as unit:
        found = unit.accounts.get(user_id)
        if found is None:
            raise NotFoundError("User not found.")
        updated = unit.accounts.update(
            user_id, {**(changes or {}), "token_generation": found["token_generation"] + 1}
        )
    assert updated is not None
    return updated


async def change_own_password(
    database: Database, hasher: PasswordHasher, user: UserRecord, *, current: str, new: str
) -> UserRecord:
    """Set a new password once the current one is proven (403 otherwise); older tokens stop working."""
    if not await hasher.verify(current, user["password_hash"]):
        raise PermissionDenied("The current password is incorrect.")
    password_hash = await hasher.hash(new)
    changes: dict[str, object] = {"password_hash": password_hash}
    return await anyio.to_thread.run_sync(bump_token_generation, database, user["id"], changes)


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
