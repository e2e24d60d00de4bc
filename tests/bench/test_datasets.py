"""The bench's generated data sets: streamed one record at a time, laid out as asked, and restorable."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from bench.datasets import DataSet, Shape, make_data_set, shape_for
from tests.utils.server import run_cli

# The school year's layout in miniature: 2 long threads of 12 messages, 5 ordinary threads.
SMALL_YEAR = Shape(users=3, threads=7, long_threads=2, long_length=12)
MESSAGES = 2 * 12 + 11


def _generate(tmp_path: Path) -> tuple[DataSet, dict]:  # type: ignore[type-arg]
    path = tmp_path / "set.json"
    data = make_data_set(path, messages=MESSAGES, password_hash="not-a-real-hash", shape=SMALL_YEAR)
    return data, json.loads(path.read_text(encoding="utf-8"))


def test_long_threads_hold_their_length_and_the_rest_go_round_robin(tmp_path: Path) -> None:
    data, document = _generate(tmp_path)

    per_thread = Counter(message["conversation_id"] for message in document["messages"])
    assert [per_thread[thread] for thread in data.long_threads] == [12, 12]
    assert sorted(per_thread[thread] for thread in data.conversations_with_messages) == [2, 2, 2, 2, 3]
    assert data.short_length == 3 and not data.conversations_without
    assert not set(data.long_threads) & set(data.conversations_with_messages)
    assert len({message["id"] for message in document["messages"]}) == MESSAGES


def test_each_thread_alternates_roles_in_time_order_and_ends_at_its_updated_at(tmp_path: Path) -> None:
    _, document = _generate(tmp_path)

    updated_at = {
        conversation["id"]: conversation["updated_at"] for conversation in document["conversations"]
    }
    threads: dict[str, list[dict]] = {}  # type: ignore[type-arg]
    for message in document["messages"]:
        threads.setdefault(message["conversation_id"], []).append(message)
    for conversation_id, messages in threads.items():
        assert [m["role"] for m in messages] == ["user", "assistant"] * (len(messages) // 2) + ["user"] * (
            len(messages) % 2
        )
        assert [m["created_at"] for m in messages] == sorted(m["created_at"] for m in messages)
        assert updated_at[conversation_id] == messages[-1]["created_at"]


def test_the_ledger_counts_every_answer_of_the_generated_threads(tmp_path: Path) -> None:
    _, document = _generate(tmp_path)

    answers = Counter(m["user_id"] for m in document["messages"] if m["role"] == "assistant")
    ledger = Counter()  # type: ignore[var-annotated]
    for line in document["usage"]:
        if line["day"].startswith("2026-01"):  # the generated answers' days; the rest is history
            ledger[line["user_id"]] += line["messages"]
    assert ledger == answers
    assert document["users"][0]["role"] == "admin"


def test_a_generated_set_restores_and_dumps_back_with_every_message(tmp_path: Path) -> None:
    _, document = _generate(tmp_path)

    restored = run_cli("restore", str(tmp_path / "set.json"), data_dir=tmp_path / "data")
    assert restored.returncode == 0, restored.stderr
    dumped = run_cli("dump", str(tmp_path / "back.json"), data_dir=tmp_path / "data")
    assert dumped.returncode == 0, dumped.stderr

    back = json.loads((tmp_path / "back.json").read_text(encoding="utf-8"))
    assert _threads(back) == _threads(document)
    assert len(back["usage"]) == len(document["usage"])


def _threads(document: dict) -> dict[str, list[tuple[str, str, str]]]:  # type: ignore[type-arg]
    """Each thread's messages in order (the dump may list the threads themselves in another order)."""
    threads: dict[str, list[tuple[str, str, str]]] = {}
    for message in document["messages"]:
        entry = (message["id"], message["role"], message["content"])
        threads.setdefault(message["conversation_id"], []).append(entry)
    return threads


def test_the_school_year_shape_starts_at_a_million_messages() -> None:
    assert shape_for(100_000) == Shape()
    school_year = shape_for(1_000_000)
    assert (school_year.users, school_year.threads, school_year.long_threads) == (2000, 20000, 20)
    assert school_year.long_length == 5000
