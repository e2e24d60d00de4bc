"""Forged and spoiled bearer tokens, for tests that attack authentication."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from jose import jwt

from tests.utils.api import TEST_JWT_SECRET

OTHER_KEY = "k" * 40


def claims(sub: str, **extra: Any) -> dict[str, Any]:
    """The claims the server issues: `sub`, `iat`, and `exp` an hour away."""
    now = int(time.time())
    return {"sub": sub, "iat": now, "exp": now + 3600, **extra}


def signed(payload: dict[str, Any], key: str = TEST_JWT_SECRET) -> str:
    """A token signed like the server's own (HS256), with `key`."""
    return jwt.encode(payload, key, algorithm="HS256")


def _b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def alg_none(sub: str) -> str:
    """An unsigned token (`alg: none`) with otherwise valid claims."""
    return f"{_b64url({'alg': 'none', 'typ': 'JWT'})}.{_b64url(claims(sub))}."


def expired(sub: str) -> str:
    """A correctly signed token that expired an hour ago."""
    now = int(time.time())
    return signed({"sub": sub, "iat": now - 7200, "exp": now - 3600})


def other_key(sub: str) -> str:
    """A token with valid claims signed with a key that is not the server's."""
    return signed(claims(sub), OTHER_KEY)


def bearer(token: str) -> dict[str, str]:
    """The Authorization header carrying `token`."""
    return {"Authorization": f"Bearer {token}"}
