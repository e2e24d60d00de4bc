"""The benchmark: `python bench/run.py [--quick] [--sizes 1000,10000,100000] [--database-url URL]`.

Generates classroom data sets, loads them with `python main.py restore`, serves each with
`python main.py` against a fake upstream on 127.0.0.1, measures over HTTP, and writes
`results.md` and a plot of chat-turn latency against stored messages. No network needed.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import bcrypt
from sqlalchemy import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench import search_bench
from bench.classroom import measure_classroom
from bench.databases import describe, scratch_database
from bench.datasets import LONG_THREADS_MESSAGES, PASSWORD, make_data_set
from bench.image_turn import measure_image_turns
from bench.long_threads import (
    LONG_THREADS_LABEL,
    long_thread_summary,
    long_thread_table,
    measure_long_thread_set,
)
from bench.organising import ORGANISING_ROWS
from bench.report import PLOT_NAME, ROWS, plot, table
from bench.scenarios import BURST_LATENCY, Samples, bearer_for, measure_baseline, measure_size
from bench.server import UpstreamProcess
from bench.several_models import SEVERAL_ROWS, several_models
from bench.streaming import measure_streaming, streaming_table
from bench.usage_figures import USAGE_ROWS, measure_usage

search_bench.install()

BENCH = Path(__file__).resolve().parent


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python bench/run.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="1000,10000,100000",
        help="stored messages per data set; 1000000 is the school year (2,000 users, 20,000 threads, "
        "20 of them 5,000 messages long)",
    )
    parser.add_argument("--quick", action="store_true", help="fewer samples: a smoke run, not figures")
    parser.add_argument("--out", type=Path, default=BENCH, help="folder for results.md and the plot")
    parser.add_argument(
        "--database-url",
        help="bench the SQL backend on this server: a fresh database per data set is created there "
        "and dropped after (sqlite:// uses fresh SQLite files)",
    )
    return parser.parse_args()


def _machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor() or "unknown CPU",
    )
    return f"{os.cpu_count()} cores ({model}), {platform.system()} {platform.release()}, Python {platform.python_version()}"


def main() -> int:
    args = _arguments()
    ROWS.extend(ORGANISING_ROWS)
    sizes = sorted(int(size) for size in args.sizes.split(","))
    samples = Samples(chat_turns=60, reads=60, logins=3, bursts=1) if args.quick else Samples(300, 400, 10, 5)
    # One cost-12 hash shared by every account: login pays the production price of bcrypt.
    password_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(12)).decode()
    started = time.perf_counter()
    upstream = UpstreamProcess()
    try:
        with tempfile.TemporaryDirectory(prefix="assistantia-bench-") as tmp:
            workdir = Path(tmp)
            baseline = measure_baseline(workdir, samples)
            print(f"bare FastAPI: GET / p50 {baseline['root_p50']:.2f} ms", flush=True)
            figures = {}
            # Issue 13: every set with 5,000-message threads; the small one runs by default.
            with scratch_database(args.database_url, workdir, LONG_THREADS_MESSAGES) as database_url:
                long_columns = {
                    LONG_THREADS_LABEL: measure_long_thread_set(
                        workdir,
                        upstream,
                        samples.chat_turns,
                        bearer_for,
                        password_hash=password_hash,
                        database_url=database_url,
                    )
                }
            print(f"long threads: {long_thread_summary(long_columns[LONG_THREADS_LABEL][1])}", flush=True)
            for size in sizes:
                dump_path = workdir / f"dump-{size}.json"
                generating = time.perf_counter()
                data = make_data_set(dump_path, messages=size, password_hash=password_hash)
                print(f"{size:,} messages generated in {time.perf_counter() - generating:.0f} s", flush=True)
                largest = size == sizes[-1]
                with scratch_database(args.database_url, workdir, size) as database_url:
                    figures[size] = measure_size(
                        data,
                        dump_path,
                        workdir,
                        upstream,
                        samples,
                        database_url=database_url,
                        with_burst=largest,
                        with_dump=largest,
                        # issue 10: the 3-model turn on the same server and tokens
                        extra=lambda *given: measure_usage(*given) | several_models(upstream)(*given),
                    )
                    if largest:
                        streaming = measure_streaming(data, workdir, upstream, database_url=database_url)
                print(f"{size:,} messages: chat turn p50 {figures[size]['chat_p50']:.2f} ms", flush=True)
                if data.long_threads:
                    long_columns[f"{size:,} messages"] = (data, figures[size])
                dump_path.unlink()  # a million messages take 0.8 GB of the temporary folder
            with scratch_database(args.database_url, workdir, 0) as database_url:  # issue 12
                classroom = measure_classroom(database_url, samples.reads)
            with scratch_database(args.database_url, workdir, 1) as database_url:  # issue 10
                images = measure_image_turns(database_url)
    finally:
        upstream.stop()
    elapsed = time.perf_counter() - started
    ROWS.extend(USAGE_ROWS + SEVERAL_ROWS)
    rendered = table(figures, baseline, BURST_LATENCY)
    rendered += "\n\nLong threads (issue 13):\n\n" + long_thread_table(long_columns)
    rendered += f"\n\nStreamed answers, {sizes[-1]:,} messages:\n\n" + streaming_table({"figure": streaming})
    rendered += "\n\nClassroom (p50, in-process): " + "; ".join(
        f"{label} {p50:.2f} ms" for label, p50 in classroom
    )
    rendered += "\n\nImages (p50, in-process): " + "; ".join(f"{label} {p50:.2f} ms" for label, p50 in images)
    print(rendered)
    args.out.mkdir(parents=True, exist_ok=True)
    plot(figures, baseline, args.out / PLOT_NAME)
    (args.out / "results.md").write_text(
        _document(args, rendered, baseline, samples, elapsed), encoding="utf-8"
    )
    print(f"wrote {args.out / 'results.md'} and {args.out / PLOT_NAME} in {elapsed:.0f} s")
    return 0


def _document(
    args: argparse.Namespace, rendered: str, baseline: dict[str, float], samples: Samples, elapsed: float
) -> str:
    database = describe(args.database_url)
    analysis = BENCH / "analysis.md"
    return f"""# Benchmark results

- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; run took {elapsed:.0f} s
- Machine: {_machine()}
- Command: `{shlex.join(["python", "bench/run.py", *_hide_passwords(sys.argv[1:])])}`
- Storage: {database}
- Bare FastAPI endpoint (same uvicorn settings): `GET /` p50 {baseline["root_p50"]:.2f} ms, start-up
  {baseline["startup_s"]:.2f} s, peak RSS {baseline["rss_mb"]:.0f} MB. Ratios in brackets are to these
  (latencies to the `GET /` p50, start-up and RSS to the bare app's); the burst's is to the upstream's 1 s.
- Samples per set: {samples.chat_turns} chat turns, {samples.reads} history reads on distinct threads,
  {samples.reads} conversation lists, {samples.logins} logins; {samples.bursts} bursts of 100 (median, [min–max]).

{rendered}

Targets are checked on the largest set (issue 13's from 1,000,000 messages). Data sets up to
100,000 messages: 200 users, 2,000 conversations; 1,000,000 messages: 2,000 users, 20,000
conversations, 20 of them 5,000 messages long and the rest 45 or 46; the long-thread set: 8 users,
8 threads of 5,000 and 40 of 50. Messages of about 600 bytes alternating user and assistant; the
upstream answers instantly except in the burst.

![chat turn latency against stored messages]({PLOT_NAME})

{analysis.read_text(encoding="utf-8") if analysis.exists() and not args.database_url else ""}"""


def _hide_passwords(argv: list[str]) -> list[str]:
    return [make_url(arg).render_as_string(hide_password=True) if "://" in arg else arg for arg in argv]


if __name__ == "__main__":
    sys.exit(main())
