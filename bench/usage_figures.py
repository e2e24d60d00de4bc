"""Issue 9 figures: the usage routes' p50 over a ledger of realistic size, on the running server.

`with_ledger` turns a generated data set into a version 2 dump whose answers carry their model
and usage (TinyDB counts them again at start-up) and whose accounts each have LEDGER_DAYS days
of usage by two models (a student using the app most days of a term), the first account an
administrator; `measure_usage` times the routes that read it.
"""

from __future__ import annotations

import itertools
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from .client import percentile, timed
from .datasets import DataSet
from .report import Row

__all__ = ["USAGE_ROWS", "measure_usage", "with_ledger"]

LEDGER_DAYS = 90
_MODELS = ("openai/gpt-4o-mini", "mistralai/mistral-small")
_LAST_DAY = date(2026, 12, 1)


def with_ledger(dump_path: Path, data: DataSet) -> None:
    """Add a usage ledger (LEDGER_DAYS × 2 lines per account) to the dump, and make one admin."""
    document = json.loads(dump_path.read_text(encoding="utf-8"))
    document["version"] = 2
    document["users"][0]["role"] = "admin"
    days = [(_LAST_DAY - timedelta(days=offset)).isoformat() for offset in range(LEDGER_DAYS)]
    lines = {
        (user_id, day, model): _line(user_id, day, model, 3)
        for user_id in data.user_ids
        for day in sorted(days)
        for model in _MODELS
    }
    for message in document["messages"]:
        if message["role"] == "assistant":  # what the answers count is in the ledger too
            message.update(model=_MODELS[0], finish_reason="stop", usage=_ANSWER_USAGE)
            key = (message["user_id"], message["created_at"][:10], _MODELS[0])
            found = lines.get(key) or _line(*key, 0)
            lines[key] = {
                **found,
                "messages": found["messages"] + 1,
                **{name: found[name] + _ANSWER_USAGE[name] for name in _ANSWER_USAGE if name != "cost"},
                "cost": found["cost"] + _ANSWER_USAGE["cost"],
            }
    document["usage"] = [lines[key] for key in sorted(lines)]
    dump_path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")


_ANSWER_USAGE = {"prompt_tokens": 400, "completion_tokens": 150, "total_tokens": 550, "cost": 0.0001}


def _line(user_id: str, day: str, model: str, answers: int) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "day": day,
        "model": model,
        "messages": answers,
        "prompt_tokens": 400 * answers,
        "completion_tokens": 150 * answers,
        "total_tokens": 550 * answers,
        "cost": 0.0001 * answers,
    }


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
    Row("usage_all_p50", "`GET /users/usage` p50 (200 accounts, admin)", "ms", ratio_to="root_p50"),
]
