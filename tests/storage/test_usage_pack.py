"""A stored summary's usage lines, packed in arrays: the same figures, and every damage refused."""

from __future__ import annotations

from typing import Any

import pytest

from BackEnd.storage.base import UsageTotals
from BackEnd.storage.summaries import summarise, summary_from_record, summary_record
from BackEnd.storage.usage_pack import PackedLines, pack_lines


def _line(**changes: Any) -> dict[str, Any]:
    line = {
        "day": "2026-03-02",
        "model": "a/one",
        "messages": 2,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "cost": 0.25,
    }
    return {**line, **changes}


def _answer(moment: str, model: str, usage: dict[str, Any] | None) -> dict[str, Any]:
    return {"role": "assistant", "created_at": moment, "model": model, "content": "ok", "usage": usage}


def test_a_summary_read_back_holds_the_same_figures_as_the_one_written() -> None:
    summary = summarise(
        [
            {"role": "user", "created_at": "2026-03-02T08:00:00.000000Z", "content": "hi"},
            _answer(
                "2026-03-02T08:00:01.000000Z",
                "a/one",
                {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3, "cost": 0.5},
            ),
            _answer("2026-03-02T09:00:00.000000Z", "b/two", None),
            _answer(
                "2026-03-03T09:00:00.000000Z",
                "a/one",
                {"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9, "cost": None},
            ),
        ]
    )

    read = summary_from_record(summary_record(summary))

    assert not isinstance(read, str)
    assert isinstance(read.usage, PackedLines)
    assert read == summary
    assert dict(read.usage.items()) == dict(summary.usage)
    assert read.usage[("2026-03-02", "b/two")] == UsageTotals(messages=1)
    assert read.usage[("2026-03-03", "a/one")] == UsageTotals(1, 4, 5, 9, None)
    with pytest.raises(KeyError):
        read.usage[("2026-03-04", "a/one")]
    assert summary_record(read) == summary_record(summary)


def test_lines_are_packed_in_their_order_with_costs_and_without() -> None:
    packed = pack_lines([_line(), _line(day="2026-03-03", cost=None, messages=0)])

    assert isinstance(packed, PackedLines)
    assert list(packed.items()) == [
        (("2026-03-02", "a/one"), UsageTotals(2, 10, 5, 15, 0.25)),
        (("2026-03-03", "a/one"), UsageTotals(0, 10, 5, 15, None)),
    ]
    assert len(pack_lines([])) == 0  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        ({"day": "2026-03-02"}, "has no valid 'usage'"),
        ([_line(), "a line"], "usage line is not an object"),
        ([{k: v for k, v in _line().items() if k != "cost"}], "usage line has no valid 'cost'"),
        ([_line(day="2026-02-30")], "usage line has no valid 'day' (YYYY-MM-DD)"),
        ([_line(day=20260302)], "usage line has no valid 'day' (YYYY-MM-DD)"),
        ([_line(model="")], "usage line has no valid 'model'"),
        ([_line(model=["a"])], "usage line has no valid 'model'"),
        ([_line(), _line(messages=True)], "usage line has no valid 'messages'"),
        ([_line(prompt_tokens=-1)], "usage line has no valid 'prompt_tokens'"),
        ([_line(completion_tokens=1.5)], "usage line has no valid 'completion_tokens'"),
        ([_line(total_tokens=10**15)], "usage line has no valid 'total_tokens'"),
        ([_line(cost=float("nan"))], "usage line has no valid 'cost'"),
        ([_line(cost=-0.5)], "usage line has no valid 'cost'"),
        ([_line(cost="0.5")], "usage line has no valid 'cost'"),
        ([_line(cost=10**12)], "usage line has no valid 'cost'"),
        ([_line(), _line(messages=3)], "usage line repeats a day and model"),
    ],
)
def test_a_damaged_usage_list_is_refused_with_its_reason(lines: object, problem: str) -> None:
    assert pack_lines(lines) == problem
    stored = summary_record(summarise([]))
    assert summary_from_record({**stored, "usage": lines}) == problem
