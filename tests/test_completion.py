"""Reading the upstream's usage object: counts kept, nonsense dropped."""

from __future__ import annotations

import pytest

from BackEnd.completion import Usage


def test_usage_keeps_counts_and_cost() -> None:
    usage = Usage.from_upstream(
        {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42, "cost": 0.0021}
    )
    assert usage == Usage(12, 30, 42, 0.0021)


def test_usage_sums_a_missing_total_and_drops_a_bad_cost() -> None:
    usage = Usage.from_upstream({"prompt_tokens": 5, "completion_tokens": 7, "cost": "free"})
    assert usage == Usage(5, 7, 12, None)


@pytest.mark.parametrize("body", [None, [], {}, {"prompt_tokens": True}, {"total_tokens": -3}])
def test_no_usage_from_nonsense(body: object) -> None:
    assert Usage.from_upstream(body) is None
