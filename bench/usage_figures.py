"""Issue 9 figures: the usage routes' p50 over a ledger of realistic size, on the running server.

Every generated set is a version 2 dump whose answers carry their model and usage (TinyDB counts
them again at start-up) and whose accounts each have LEDGER_DAYS days of usage by two models
(`bench/ledger.py`), the first account an administrator; `measure_usage` times the routes that
read it.
"""

from __future__ import annotations

import itertools

import httpx

from .client import percentile, timed
from .datasets import DataSet
from .ledger import LEDGER_DAYS
from .report import Row

__all__ = ["USAGE_ROWS", "measure_usage"]


def measure_usage(
    client: httpx.Client, data: DataSet, reads: int, tokens: dict[str, str]
) -> dict[str, float]:
    """`GET /auth/me/usage` (the default 30 days) over every account in turn, and the admins' report."""
    users = itertools.cycle(data.user_ids)
    own = timed(lambda: _get(client, "/auth/me/usage", tokens[next(users)]), reads)
    everyone = timed(lambda: _get(client, "/users/usage", tokens[data.user_ids[0]]), max(reads // 10, 20))
    return {"usage_p50": percentile(own, 50), "usage_all_p50": percentile(everyone, 50)}


def _get(client: httpx.Client, path: str, token: str) -> httpx.Response:
    response = client.get(path, headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    return response


USAGE_ROWS = [
    Row(
        "usage_p50",
        f"`GET /auth/me/usage` p50 ({LEDGER_DAYS} days × 2 models of ledger per account)",
        "ms",
        "≤ 10 ms",
        lambda figures, largest: figures[largest]["usage_p50"] <= 10,
        "root_p50",
    ),
    Row("usage_all_p50", "`GET /users/usage` p50 (every account, admin)", "ms", ratio_to="root_p50"),
]
