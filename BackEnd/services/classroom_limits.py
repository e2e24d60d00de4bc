"""The classroom's limits: login throttling, the chat rate, credits and disabled accounts."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from ..errors import AccountDisabled, ChatRateExceeded, CreditsExhausted, TooManyLoginFailures
from ..records import UserRecord
from ..storage import Database, UnitOfWork

__all__ = [
    "DISABLED",
    "LoginRules",
    "check_login_allowed",
    "check_may_chat",
    "login_failed",
    "login_succeeded",
    "take_chat_turn",
]

DISABLED = "This account is disabled."
NO_CREDITS = "No credits left; ask your teacher."
_CHAT_WINDOW = 60.0


@dataclass(frozen=True)
class LoginRules:
    """LOGIN_MAX_FAILURES per email and per client address within LOGIN_WINDOW_SECONDS."""

    per_email: int = 5
    per_address: int = 50
    window_seconds: float = 900


def _email_key(email: str) -> str:
    return f"login-email:{email}"


def _address_key(address: str) -> str:
    return f"login-address:{address}"


def _now() -> float:
    # One clock for every window (tests move it).
    return time.time()


def _retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


def check_login_allowed(database: Database, rules: LoginRules, email: str, address: str) -> None:
    """TooManyLoginFailures while this email or address has too many recent failures.

    Checked before the password, whether the email has an account or not: nothing is revealed.
    """
    now = _now()
    with database.unit_of_work(write=False) as unit:
        waits = [
            unit.events.take(key, now=now, window=rules.window_seconds, limit=limit, record=False)
            for key, limit in (
                (_email_key(email), rules.per_email),
                (_address_key(address), rules.per_address),
            )
        ]
    wait = max((w for w in waits if w is not None), default=None)
    if wait is not None:
        raise TooManyLoginFailures(
            "Too many failed logins; wait before trying again.", retry_after=_retry_after(wait)
        )


def login_failed(database: Database, email: str, address: str) -> None:
    """Count a wrong password against the email and the address."""
    now = _now()
    with database.unit_of_work() as unit:
        unit.events.add(_email_key(email), now=now)
        unit.events.add(_address_key(address), now=now)


def login_succeeded(unit: UnitOfWork, email: str) -> None:
    """A right password wipes the email's failures (the address keeps its count)."""
    unit.events.clear(_email_key(email))


def check_may_chat(user: UserRecord | None) -> None:
    """Refuse a turn of a disabled account (401) or one without credits (402), before the model is asked."""
    if user is None:
        return  # the account went meanwhile: the thread lookup answers
    if not user["is_active"]:
        raise AccountDisabled(DISABLED)
    if user["credits"] is not None and user["credits"] <= 0:
        raise CreditsExhausted(NO_CREDITS)


def take_chat_turn(unit: UnitOfWork, user_id: str, per_minute: int) -> None:
    """Count one message against CHAT_RATE_PER_MINUTE; ChatRateExceeded (nothing counted) over it."""
    if per_minute <= 0:
        return
    wait = unit.events.take(f"chat:{user_id}", now=_now(), window=_CHAT_WINDOW, limit=per_minute, record=True)
    if wait is not None:
        raise ChatRateExceeded(
            f"You sent {per_minute} messages in the last minute; wait a moment.",
            retry_after=_retry_after(wait),
        )
