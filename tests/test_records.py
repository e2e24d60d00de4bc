"""Record checks used at start-up, on hand edits and on restore: ids and record shapes."""

from __future__ import annotations

import pytest

from BackEnd.record_checks import record_problem
from BackEnd.records import is_valid_id, is_valid_stamp, message_record, new_id, utc_now


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (new_id("msg"), True),
        ("msg_a-B_9", True),
        ("msg_" + "a" * 64, True),
        ("msg_" + "a" * 65, False),
        ("msg_", False),
        ("conv_abc", False),
        ("msg_abc\n", False),
        ("msg_../etc", False),
        ("xmsg_abc", False),
        (42, False),
    ],
)
def test_is_valid_id_accepts_only_our_id_shape(value: object, valid: bool) -> None:
    assert is_valid_id("msg", value) is valid


def test_record_problem_accepts_a_new_message() -> None:
    assert record_problem("message", message_record("usr_a", "conv_b", "user", "hi")) is None


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"role": "system"}, "has role 'system'; expected one of ['assistant', 'user']"),
        ({"content": None}, "has no valid 'content'"),
        ({"id": "conv_123"}, "has a malformed id 'conv_123'"),
    ],
)
def test_record_problem_names_what_is_wrong(change: dict[str, object], problem: str) -> None:
    record = {**message_record("usr_a", "conv_b", "user", "hi"), **change}
    assert record_problem("message", record) == problem


def test_record_problem_refuses_a_non_object_and_a_missing_field() -> None:
    assert record_problem("user", ["not", "a", "dict"]) == "is not an object"
    assert record_problem("conversation", {"id": "conv_1"}) == "has no valid 'user_id'"


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (utc_now(), True),
        ("2024-02-29T23:59:59.999999Z", True),
        ("2026-02-29T00:00:00.000000Z", False),
        ("2026-13-01T00:00:00.000000Z", False),
        ("2026-01-01T24:00:00.000000Z", False),
        ("2026-01-01T00:00:00Z", False),
        ("2026-01-01T00:00:00.000000+00:00", False),
        ("2026-01-01 00:00:00.000000Z", False),
        ("\uff12026-01-01T00:00:00.000000Z", False),
        ("yesterday", False),
        (None, False),
    ],
)
def test_is_valid_stamp_accepts_only_the_fixed_width_utc_format(value: object, valid: bool) -> None:
    assert is_valid_stamp(value) is valid
