"""CPU of a cold thread's storage work, 50 against 5,000 messages: `python bench/cold_thread.py`.

Issue 13: a thread not read since start-up serves a page or takes a turn. This times, in CPU
(`time.process_time`, so other jobs on the machine count less than in wall time) and with
`fsync` stubbed out (the disk's sync is the same for both threads), the history file's work
alone: the first and last pages of 50 messages, and a turn (its memory window of 20 messages,
then two messages committed), each on a fresh, cold `RecordFile`.
"""

from __future__ import annotations

import argparse
import inspect
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from BackEnd.records import message_record
from BackEnd.storage.journal import FileTransaction
from BackEnd.storage.record_file import RecordFile
from BackEnd.storage.thread_files import PATCH_FROM_BYTES
from bench.loop_stall import _fill


def _table(path: Path, count: int) -> RecordFile:
    # Older code has no `known_count`: the same script measures before and after.
    known = (
        {"known_count": lambda: count} if "known_count" in inspect.signature(RecordFile).parameters else {}
    )
    return RecordFile(path, "messages", patch_from_bytes=PATCH_FROM_BYTES, **known)  # type: ignore[arg-type]


def _measure(folder: Path, messages: int, size: int, rounds: int) -> dict[str, float]:
    user_id, conversation_id = _fill(folder, messages, size)
    path = folder / "historique" / f"{conversation_id}.json"
    original = path.read_bytes()

    def turn(table: RecordFile) -> Any:
        table.records(-20)
        table.count()
        transaction = FileTransaction(folder)
        with transaction.activate():
            table.insert(
                [
                    message_record(user_id, conversation_id, "user", "question"),
                    message_record(user_id, conversation_id, "assistant", "answer"),
                ]
            )
        transaction.commit()

    calls: dict[str, Callable[[RecordFile], Any]] = {
        "first page": lambda table: (table.records(0, 50), table.count()),
        "last page": lambda table: (table.records(messages - 50, messages), table.count()),
        "turn": turn,
    }
    figures: dict[str, float] = {}
    for name, call in calls.items():
        times = []
        for _ in range(rounds):
            path.write_bytes(original)  # the thread as filled: a turn's lines removed
            table = _table(path, messages)
            started = time.process_time()
            call(table)
            times.append(time.process_time() - started)
        figures[name] = statistics.median(times) * 1000
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python bench/cold_thread.py", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--size", type=int, default=600, help="characters per message")
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    os.fsync = lambda fd: None  # the disk's sync is the same for both threads: out of the figures
    with tempfile.TemporaryDirectory() as scratch:
        rows = [
            (n, _measure(Path(scratch) / f"BDD-{n}", n, args.size, args.rounds)) for n in (50, args.messages)
        ]
    base = rows[0][1]["turn"]
    print("| thread | cold first page CPU p50 | cold last page CPU p50 | cold turn CPU p50 | turn ratio |")
    print("|---|---:|---:|---:|---:|")
    for messages, figures in rows:
        print(
            f"| {messages:,} messages | {figures['first page']:.2f} ms | {figures['last page']:.2f} ms"
            f" | {figures['turn']:.2f} ms | {figures['turn'] / base:.2f}x |"
        )


if __name__ == "__main__":
    main()
