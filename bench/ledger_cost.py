"""What the usage ledger adds to storing a turn: `python bench/ledger_cost.py [--database-url URL]`.

Stores turns through `services/chat.py`'s `_store_turn`, in one process, alternating three ways
(plain messages; answers with their model and usage; and also counted in the ledger) so the
machine's load falls on all three alike, and prints each way's p50 wall and CPU time. Without
`--database-url`, a TinyDB folder in a temporary directory; with one, a database created there
for the run and dropped after.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from BackEnd.completion import Completion, Usage
from BackEnd.records import message_record
from BackEnd.services.chat import _store_turn
from BackEnd.services.conversations import ThreadLimits
from BackEnd.storage import Database, open_database
from bench.databases import scratch_database
from tests.utils.api import make_settings
from tests.utils.records import add_users, chat, make_user

_ANSWER = Completion("a" * 600, "openai/gpt-4o-mini", "stop", Usage(400, 150, 550, 0.0001))
_WAYS = ("plain messages", "+ model, finish_reason, usage", "+ counted in the ledger")


def _turns(database: Database, rounds: int) -> dict[int, list[tuple[float, float]]]:
    user = make_user("bench@example.com")
    add_users(database, user)
    thread = chat(database, user["id"], "hello")["id"]
    limits = ThreadLimits(conversations_per_user=10**6, messages_per_conversation=10**7)
    for day in range(1, 91):  # a term of ledger lines, as a regular student has
        with database.unit_of_work(user["id"]) as unit:
            unit.usage.record(user["id"], thread, f"2026-{1 + day // 29:02d}-{1 + day % 28:02d}", "b/x", None)
    times: dict[int, list[tuple[float, float]]] = {way: [] for way in range(len(_WAYS))}
    for _ in range(rounds):
        for way in times:
            turn = [
                message_record(user["id"], thread, "user", "q" * 600),
                message_record(
                    user["id"], thread, "assistant", "a" * 600, completion=_ANSWER if way else None
                ),
            ]
            wall, cpu = time.perf_counter(), time.process_time()
            _store_turn(database, limits, user["id"], thread, turn, None, [_ANSWER] if way == 2 else [])
            times[way].append((time.perf_counter() - wall, time.process_time() - cpu))
    return times


def main() -> int:
    parser = argparse.ArgumentParser(prog="python bench/ledger_cost.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", help="a PostgreSQL server (or sqlite://) to bench the SQL backend on"
    )
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="assistantia-ledger-") as tmp:
        with scratch_database(args.database_url, Path(tmp), 0) as url:
            database = open_database(make_settings(Path(tmp) / "BDD", database_url=url))
            try:
                times = _turns(database, args.rounds)
            finally:
                database.close()
    for way, samples in times.items():
        wall = statistics.median(sample[0] for sample in samples) * 1000
        cpu = statistics.median(sample[1] for sample in samples) * 1000
        print(f"{_WAYS[way]:32} wall p50 {wall:.2f} ms, CPU p50 {cpu:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
