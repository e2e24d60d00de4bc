"""Long-thread figures (issue 13): a turn in a 5,000-message thread against one in an ordinary thread,
and the first and last history pages of a 5,000-message thread read cold.

`bench/run.py` measures them on every set that has long threads; alone, `python
bench/long_threads.py [--runs N] [--turns N] [--database-url URL]` serves the small set N times
(fresh restore and server each, so the pages are cold) and prints each run, to compare code
versions in interleaved runs.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench.client import percentile, timed
from bench.datasets import LONG_THREADS, LONG_THREADS_MESSAGES, DataSet, make_data_set
from bench.server import MAIN, Process, UpstreamProcess, bench_env, free_port, run_command

__all__ = [
    "LONG_THREADS_LABEL",
    "long_thread_summary",
    "long_thread_table",
    "measure_long_thread_set",
    "measure_long_threads",
]

LONG_THREADS_LABEL = "8 × 5,000 + 40 × 50"

PAGE = 50
TURN_WARMUP = 5
# (key, label, target, whether a column meets it)
_ROWS = [
    ("long_chat_p50", "chat turn p50 in a long thread ({long} messages), interleaved", "", None),
    ("short_chat_p50", "chat turn p50 in an ordinary thread ({short} messages), interleaved", "", None),
    ("short_alone_chat_p50", "chat turn p50 in an ordinary thread, no long turns in between", "", None),
    ("long_chat_ratio", "ratio long / ordinary thread, interleaved", "≤ 1.3×", lambda v: v <= 1.3),
    (
        "long_first_page_p50",
        "`GET /history/{{id}}?limit=50` first page p50, cold",
        "≤ 5 ms",
        lambda v: v <= 5,
    ),
    ("long_last_page_p50", "`GET /history/{{id}}?limit=50` last page p50, cold", "≤ 5 ms", lambda v: v <= 5),
    ("long_cold_reads", "cold reads per page (one per untouched long thread)", "", None),
]


def measure_long_threads(
    client: httpx.Client, data: DataSet, turns: int, headers_of: Callable[[str], dict[str, str]]
) -> dict[str, float]:
    """Cold first and last pages (each on its own untouched long thread), then turns in long and
    ordinary threads, interleaved turn by turn so the machine's noise hits both alike."""
    if not data.long_threads:
        return {}
    headers = {user_id: headers_of(user_id) for user_id in data.user_ids}  # signed before timing
    half = len(data.long_threads) // 2

    def pages(threads: list[str], offset: int) -> list[float]:
        remaining = iter(threads)

        def read() -> httpx.Response:
            thread = next(remaining)
            params = {"limit": PAGE, "offset": offset}
            response = client.get(f"/history/{thread}", params=params, headers=headers[data.owner_of[thread]])
            assert len(response.json()["items"]) == PAGE, response.text
            return response

        return timed(read, len(threads), warmup=0)

    first = pages(data.long_threads[:half], 0)
    last = pages(data.long_threads[half:], data.long_length - PAGE)
    long_threads = itertools.cycle(data.long_threads)
    short_threads = itertools.cycle(data.conversations_with_messages)

    def turn(threads: itertools.cycle[str]) -> httpx.Response:
        thread = next(threads)
        body = {"message": "Can you explain that again, with an example?", "conversation_id": thread}
        return client.post("/ai/chat", json=body, headers=headers[data.owner_of[thread]])

    # First ordinary turns alone: interleaved, a long turn's leftovers (its fsync's disk work,
    # garbage) land on the ordinary turn after it, which this figure shows apart.
    alone = timed(lambda: turn(short_threads), max(turns // 2, 10), warmup=TURN_WARMUP)
    long_turns: list[float] = []
    short_turns: list[float] = []
    for index in range(TURN_WARMUP + turns):
        long_turn, short_turn = (
            timed(lambda: turn(long_threads), 1, warmup=0),
            timed(lambda: turn(short_threads), 1, warmup=0),
        )
        if index >= TURN_WARMUP:
            long_turns += long_turn
            short_turns += short_turn
    long_p50, short_p50 = percentile(long_turns, 50), percentile(short_turns, 50)
    return {
        "long_chat_p50": long_p50,
        "short_chat_p50": short_p50,
        "short_alone_chat_p50": percentile(alone, 50),
        "long_chat_ratio": long_p50 / short_p50,
        "long_first_page_p50": percentile(first, 50),
        "long_last_page_p50": percentile(last, 50),
        "long_cold_reads": half,
    }


def measure_long_thread_set(
    workdir: Path,
    upstream: UpstreamProcess,
    turns: int,
    headers_of: Callable[[str], dict[str, str]],
    *,
    password_hash: str,
    database_url: str | None,
) -> tuple[DataSet, dict[str, float]]:
    """The default run's small set (8 threads of 5,000, 40 of 50), restored, served and measured alone."""
    dump_path = workdir / "dump-long-threads.json"
    data = make_data_set(
        dump_path, messages=LONG_THREADS_MESSAGES, password_hash=password_hash, shape=LONG_THREADS
    )
    env = bench_env(
        workdir / "BDD-long-threads",
        database_url,
        PORT=str(free_port()),
        OPENROUTER_API_KEY="bench-key",
        OPENROUTER_BASE_URL=upstream.base_url,
        # 8 students sending about 40 turns each in a few seconds: the per-user chat rate (20 a
        # minute) is not what this set measures. The large sets keep it on; there each long
        # thread's owner sends at most 16 turns.
        CHAT_RATE_PER_MINUTE="0",
    )
    run_command(["restore", str(dump_path)], env, workdir)
    server = Process([str(MAIN)], env, workdir / "server-long-threads.log")
    try:
        server.wait_first_answer()
        with httpx.Client(base_url=server.url, trust_env=False, timeout=60) as client:
            figures = measure_long_threads(client, data, turns, headers_of)
    finally:
        server.stop()
    return data, figures


def long_thread_table(columns: dict[str, tuple[DataSet, dict[str, float]]]) -> str:
    """One column per set that has long threads; a target is met when every column meets it."""
    names = list(columns)
    lines = [
        "| figure | " + " | ".join(names) + " | target | met? |",
        "|---|" + "---:|" * len(names) + "---|---|",
    ]
    long_lengths = ", ".join(sorted({f"{data.long_length:,}" for data, _ in columns.values()}))
    short_lengths = ", ".join(f"{data.short_length:,}" for data, _ in columns.values())
    for key, label, target, met in _ROWS:
        values = [figures[key] for _, figures in columns.values()]
        verdict = "" if met is None else ("yes" if all(met(value) for value in values) else "**no**")
        shown = label.format(long=long_lengths, short=short_lengths)
        lines.append(
            f"| {shown} | " + " | ".join(_cell(key, v) for v in values) + f" | {target} | {verdict} |"
        )
    return "\n".join(lines)


def long_thread_summary(figures: dict[str, float]) -> str:
    """The progress line's few words."""
    return (
        f"turn p50 {figures['long_chat_p50']:.2f} ms long vs {figures['short_chat_p50']:.2f} ms ordinary "
        f"({figures['long_chat_ratio']:.2f}×), {figures['short_alone_chat_p50']:.2f} ms ordinary alone; "
        f"cold pages {figures['long_first_page_p50']:.2f} / {figures['long_last_page_p50']:.2f} ms"
    )


def _cell(key: str, value: float) -> str:
    if key == "long_chat_ratio":
        return f"{value:.2f}×"
    if key == "long_cold_reads":
        return f"{value:.0f}"
    return f"{value:.2f} ms"


def main() -> None:
    """Serve the small long-thread set `--runs` times and print each run's figures and the medians."""
    import bcrypt

    from bench.databases import scratch_database
    from bench.datasets import PASSWORD
    from bench.scenarios import bearer_for

    parser = argparse.ArgumentParser(prog="python bench/long_threads.py", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--turns", type=int, default=300, help="timed turns in each kind of thread")
    parser.add_argument("--database-url", help="bench the SQL backend on this server (a scratch database)")
    args = parser.parse_args()
    password_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()  # nobody logs in here
    upstream = UpstreamProcess()
    runs = []
    try:
        for run in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="assistantia-long-") as tmp:
                workdir = Path(tmp)
                with scratch_database(args.database_url, workdir, LONG_THREADS_MESSAGES) as database_url:
                    _, figures = measure_long_thread_set(
                        workdir,
                        upstream,
                        args.turns,
                        bearer_for,
                        password_hash=password_hash,
                        database_url=database_url,
                    )
            runs.append(figures)
            print(f"run {run + 1}: {long_thread_summary(figures)}", flush=True)
    finally:
        upstream.stop()
    medians = {key: statistics.median(figures[key] for figures in runs) for key in runs[0]}
    print(f"median of {len(runs)}: {long_thread_summary(medians)}")


if __name__ == "__main__":
    main()
