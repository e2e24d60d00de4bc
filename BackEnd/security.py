"""Password hashing with bcrypt (off the event loop) and JWT access tokens (HS*, pinned)."""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path

import anyio
import bcrypt
from jose import JWTError, jwt

from .config import JWT_KEY_BYTES
from .errors import AuthenticationError, DataFileCorrupt
from .records import is_valid_id
from .storage.files import create_durably

__all__ = ["PasswordHasher", "TokenCodec", "load_or_create_secret"]

logger = logging.getLogger(__name__)

# How far another server's clock (or this one's, after an NTP step) may be from ours.
CLOCK_SKEW_SECONDS = 60


class PasswordHasher:
    """bcrypt in worker threads, at most `concurrency` at a time.

    A hash costs about 0.3 s of CPU; the small limiter keeps a login flood from taking
    every worker thread the rest of the API needs.
    """

    def __init__(self, *, rounds: int = 12, concurrency: int = 2) -> None:
        self._rounds = rounds
        self._limiter = anyio.CapacityLimiter(concurrency)
        self._dummy_hash: bytes | None = None

    async def hash(self, password: str) -> str:
        """A salted bcrypt hash of a password already checked to fit in 72 bytes."""
        return await anyio.to_thread.run_sync(self._hash, password, limiter=self._limiter)

    async def verify(self, password: str, password_hash: str | None) -> bool:
        """Check a password; with no hash, do the same work, so a probe costs what a guess costs."""
        return await anyio.to_thread.run_sync(self._verify, password, password_hash, limiter=self._limiter)

    def _hash(self, password: str) -> str:
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(self._rounds)).decode()

    def _verify(self, password: str, password_hash: str | None) -> bool:
        if self._dummy_hash is None:
            self._dummy_hash = self._hash(secrets.token_hex(16)).encode()
        encoded = password.encode()
        # bcrypt 5 refuses over 72 bytes, and registration never stores such a password.
        usable = password_hash is not None and len(encoded) <= 72
        target = password_hash.encode() if usable and password_hash else self._dummy_hash
        try:
            matches = bcrypt.checkpw(encoded[:72], target)
        except ValueError:  # a malformed hash, e.g. from a hand edit: same work, no match
            bcrypt.checkpw(encoded[:72], self._dummy_hash)
            return False
        return usable and matches


class TokenCodec:
    """Issues and checks access tokens whose only claim of authority is the user id."""

    def __init__(self, secret: str, *, algorithm: str, expires_minutes: int) -> None:
        self._secret = secret
        self._algorithm = algorithm
        self.lifetime_seconds = expires_minutes * 60

    def issue(self, user_id: str, generation: int = 0) -> str:
        """A signed token for this user, expiring after the configured lifetime.

        `generation` is the account's token generation: bumping the stored one (password
        change, log out everywhere, deactivation) refuses every token issued before.
        """
        now = int(time.time())
        claims = {"sub": user_id, "iat": now, "exp": now + self.lifetime_seconds, "gen": generation}
        token: str = jwt.encode(claims, self._secret, algorithm=self._algorithm)
        return token

    def subject(self, token: str) -> tuple[str, int]:
        """The user id and token generation inside a valid token; AuthenticationError for anything else.

        A token made before generations existed counts as generation 0.
        """
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[self._algorithm],
                options={"require_exp": True, "require_sub": True, "require_iat": True},
            )
        except JWTError as exc:
            raise AuthenticationError("Invalid or expired token.") from exc
        subject: str = claims.get("sub")
        generation = claims.get("gen", 0)
        if not is_valid_id("usr", subject) or not self._lifetime_is_ours(claims):
            raise AuthenticationError("Invalid or expired token.")
        if isinstance(generation, bool) or not isinstance(generation, int):
            raise AuthenticationError("Invalid or expired token.")
        return subject, generation

    def _lifetime_is_ours(self, claims: dict[str, object]) -> bool:
        """Whether the token lives no longer than we issue them, counted from a past `iat`.

        A signed token with `exp` in the year 9999 (a leaked key, an old setting, a bug) would
        otherwise be a key to the account forever; an `iat` in the future would stretch it too.
        """
        issued, expires = claims["iat"], claims["exp"]
        if not isinstance(issued, int) or not isinstance(expires, int):
            return False
        return (
            issued <= time.time() + CLOCK_SKEW_SECONDS
            and expires - issued <= self.lifetime_seconds + CLOCK_SKEW_SECONDS
        )


def load_or_create_secret(folder: Path, algorithm: str) -> str:
    """The JWT key kept in the data folder, created (mode 0600) on first start.

    Creation is race-free: server processes starting together on one machine all end up
    with the one key that was written first. A new key holds 512 random bits, enough for
    every algorithm; one too short for `algorithm` (made before it changed) is refused.
    """
    path = folder / ".jwt_secret"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        if create_durably(path, secrets.token_hex(64).encode()):
            logger.warning(
                "JWT_SECRET is not set: generated a random key in %s. Set JWT_SECRET to manage it "
                "yourself (required when servers on several machines share one database).",
                path,
            )
    secret = path.read_text(encoding="utf-8").strip()
    needed = JWT_KEY_BYTES[algorithm]
    if len(secret.encode()) < needed:
        raise DataFileCorrupt(
            path,
            f"the key is shorter than {needed} characters, which JWT_ALGORITHM={algorithm} needs; "
            "delete the file to make a new one (signed-in users will have to log in again)",
        )
    return secret
