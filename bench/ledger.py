"""A generated set's usage ledger: LEDGER_DAYS days × 2 models per account, plus its answers."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

__all__ = ["ANSWER_USAGE", "LEDGER_DAYS", "MODELS", "Ledger"]

LEDGER_DAYS = 90
MODELS = ("openai/gpt-4o-mini", "mistralai/mistral-small")
ANSWER_USAGE = {"prompt_tokens": 400, "completion_tokens": 150, "total_tokens": 550, "cost": 0.0001}
_LAST_DAY = date(2026, 12, 1)


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


class Ledger:
    """Each account's ledger lines (a student using the app most days of a term), and every answer counted."""

    def __init__(self, user_ids: list[str]) -> None:
        days = [(_LAST_DAY - timedelta(days=offset)).isoformat() for offset in range(LEDGER_DAYS)]
        self._lines = {
            (user_id, day, model): _line(user_id, day, model, 3)
            for user_id in user_ids
            for day in sorted(days)
            for model in MODELS
        }

    def count_answer(self, user_id: str, created_at: str) -> None:
        """One more answer by the first model on that day, as the server counts it when storing a turn."""
        key = (user_id, created_at[:10], MODELS[0])
        found = self._lines.get(key) or _line(*key, 0)
        self._lines[key] = {
            **found,
            "messages": found["messages"] + 1,
            **{name: found[name] + ANSWER_USAGE[name] for name in ANSWER_USAGE if name != "cost"},
            "cost": found["cost"] + ANSWER_USAGE["cost"],
        }

    def lines(self) -> list[dict[str, Any]]:
        """Every line, in the dump's order."""
        return [self._lines[key] for key in sorted(self._lines)]
