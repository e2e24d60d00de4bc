"""Generated classroom data sets, streamed into `assistantia-dump` files for `python main.py restore`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from .ledger import ANSWER_USAGE, MODELS, Ledger

__all__ = [
    "LONG_THREADS",
    "LONG_THREADS_MESSAGES",
    "PASSWORD",
    "SCHOOL_YEAR",
    "DataSet",
    "Shape",
    "make_data_set",
    "shape_for",
]

PASSWORD = "bench-password"
# About 600 bytes, the size of a typical student question or model answer.
_FILLER = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 10
_START = datetime(2026, 1, 1, tzinfo=UTC)
_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass(frozen=True)
class Shape:
    """How a set's messages are spread: the first `long_threads` threads hold `long_length` each,
    the rest go round robin over the other threads."""

    users: int = 200
    threads: int = 2000
    long_threads: int = 0
    long_length: int = 5000


# Issue 13: a school year, 1,000,000 messages, 20 students keeping one thread all term.
SCHOOL_YEAR = Shape(users=2000, threads=20000, long_threads=20)
# The default run's long-thread set: 8 threads of 5,000 and 40 of exactly 50 messages (42,000).
LONG_THREADS = Shape(users=8, threads=48, long_threads=8)
LONG_THREADS_MESSAGES = 8 * 5000 + 40 * 50


def shape_for(messages: int) -> Shape:
    """Today's shape (200 users, 2,000 threads) up to 100,000 messages; the school year's from 1,000,000."""
    return SCHOOL_YEAR if messages >= 1_000_000 else Shape()


@dataclass(frozen=True)
class DataSet:
    """Who owns what in a generated set, so the bench can address real threads."""

    messages: int
    user_ids: list[str]
    emails: list[str]
    owner_of: dict[str, str]  # conversation id -> user id
    conversations_with_messages: list[str]  # ordinary threads, in generation order
    conversations_without: list[str]
    long_threads: list[str]  # `long_length` messages each; kept out of the lists above
    long_length: int
    short_length: int  # messages of the ordinary threads (the most any holds)


@dataclass(frozen=True)
class _Thread:
    """A thread's messages as a progression of global message numbers (their order in time)."""

    first: int
    step: int
    count: int

    def numbers(self) -> Iterator[tuple[int, int]]:
        """(position in the thread, global number) of each message."""
        return ((k, self.first + k * self.step) for k in range(self.count))


def _stamp(seconds: int) -> str:
    return (_START + timedelta(seconds=seconds)).strftime(_STAMP)


def _layout(messages: int, shape: Shape) -> list[_Thread]:
    # Ordinary threads come first in time (numbers 0..), round robin as today's sets; the long
    # threads' messages follow, round robin among them, so they are their owners' latest threads.
    ordinary_total = messages - shape.long_threads * shape.long_length
    ordinary_threads = shape.threads - shape.long_threads
    if ordinary_total < 0 or (ordinary_total and ordinary_threads <= 0):
        raise ValueError(f"{messages} messages do not fit {shape}")
    long = [
        _Thread(ordinary_total + j, shape.long_threads, shape.long_length) for j in range(shape.long_threads)
    ]
    ordinary = [
        _Thread(i, ordinary_threads, max(0, -(-(ordinary_total - i) // ordinary_threads)))
        for i in range(ordinary_threads)
    ]
    return long + ordinary


def make_data_set(path: Path, *, messages: int, password_hash: str, shape: Shape | None = None) -> DataSet:
    """Stream a version 2 dump of `messages` messages laid out as `shape` (by default `shape_for`).

    Each thread alternates user and assistant messages; its `updated_at` is its last message's
    time, as the server keeps it. Answers carry their model and usage, every account a ledger
    (`bench/ledger.py`), and the first account is an administrator. Only one message is in
    memory at a time, so a million cost no more than a thousand.
    """
    shape = shape or shape_for(messages)
    user_ids = [f"usr_{u:06d}" for u in range(shape.users)]
    emails = [f"student{u}@school.example" for u in range(shape.users)]
    conversation_ids = [f"conv_{c:06d}" for c in range(shape.threads)]
    owner_of = {
        conversation_id: user_ids[c % shape.users] for c, conversation_id in enumerate(conversation_ids)
    }
    layout = _layout(messages, shape)
    users = [
        {
            "id": user_id,
            "email": email,
            "name": email.split("@")[0],
            "role": "admin" if u == 0 else "user",
            "password_hash": password_hash,
            "created_at": _stamp(0),
        }
        for u, (user_id, email) in enumerate(zip(user_ids, emails, strict=True))
    ]
    conversations = [
        {
            "id": conversation_id,
            "user_id": owner_of[conversation_id],
            "title": f"Thread {c}",
            "created_at": _stamp(1),
            "updated_at": _stamp(60 + thread.first + (thread.count - 1) * thread.step)
            if thread.count
            else _stamp(1),
        }
        for c, (conversation_id, thread) in enumerate(zip(conversation_ids, layout, strict=True))
    ]
    ledger = Ledger(user_ids)
    with path.open("w", encoding="utf-8") as out:
        # Written piece by piece exactly as `json.dumps` of the whole document would write it.
        out.write(f'{{"format": "assistantia-dump", "version": 2, "users": {_json(users)}, ')
        out.write(f'"conversations": {_json(conversations)}, "messages": [')
        _write_messages(out, conversation_ids, owner_of, layout, ledger)
        out.write(f'], "usage": {_json(ledger.lines())}}}')
    long_threads = conversation_ids[: shape.long_threads]
    ordinary = list(zip(conversation_ids, layout, strict=True))[shape.long_threads :]
    return DataSet(
        messages=messages,
        user_ids=user_ids,
        emails=emails,
        owner_of=owner_of,
        conversations_with_messages=[c for c, thread in ordinary if thread.count],
        conversations_without=[c for c, thread in ordinary if not thread.count],
        long_threads=long_threads,
        long_length=shape.long_length,
        short_length=max((thread.count for _, thread in ordinary), default=0),
    )


def _write_messages(
    out: TextIO, conversation_ids: list[str], owner_of: dict[str, str], layout: list[_Thread], ledger: Ledger
) -> None:
    separator = ""
    # Per thread, in time order, as `python main.py dump` lists them.
    for conversation_id, thread in zip(conversation_ids, layout, strict=True):
        user_id = owner_of[conversation_id]
        for position, number in thread.numbers():
            message: dict[str, Any] = {
                "id": f"msg_{number:07d}",
                "conversation_id": conversation_id,
                "user_id": user_id,
                "role": "user" if position % 2 == 0 else "assistant",
                "content": f"{number} {_FILLER}",
                "created_at": _stamp(60 + number),
            }
            if message["role"] == "assistant":  # what the answers count is in the ledger too
                message.update(model=MODELS[0], finish_reason="stop", usage=ANSWER_USAGE)
                ledger.count_answer(user_id, message["created_at"])
            out.write(separator + _json(message))
            separator = ", "


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)
