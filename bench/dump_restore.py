"""Time `python main.py dump` and `restore` on a school year (issue 13): a generated dump, streamed out.

    python -m bench.dump_restore make /tmp/year.json            # 1,000,000 messages, ~700 MB
    python -m bench.dump_restore run /tmp/year.json [DATABASE_URL]

`run` restores the file into an empty TinyDB folder (or the database), dumps it back, and prints
each command's wall time and peak RSS as `/usr/bin/time -v` reports them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bcrypt

_FILLER = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 10  # ~600 bytes of text
_START = datetime(2025, 9, 1, tzinfo=UTC)


def _stamp(seconds: int) -> str:
    return (_START + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def make(path: Path, *, users: int = 2_000, threads: int = 20_000, messages: int = 1_000_000) -> None:
    """Write the dump record by record: `threads` threads of `users` users, 20 of them of 5,000 messages."""
    long_threads, long_size = threads // 1_000, 5_000
    rest = messages - long_threads * long_size
    sizes = [long_size] * long_threads + [
        rest // (threads - long_threads) + (1 if t < rest % (threads - long_threads) else 0)
        for t in range(threads - long_threads)
    ]
    year = 300 * 24 * 3600  # a school year of seconds, over which each thread's messages spread
    password = bcrypt.hashpw(b"bench-password", bcrypt.gensalt(4)).decode()
    with open(path, "w", encoding="utf-8") as out:
        out.write('{"format": "assistantia-dump", "version": 3, "users": [\n')
        out.write(
            ",\n".join(
                json.dumps(
                    {
                        "id": f"usr_{u:06d}",
                        "email": f"student{u}@school.example",
                        "name": f"student{u}",
                        "role": "user",
                        "password_hash": password,
                        "created_at": _stamp(u),
                    }
                )
                for u in range(users)
            )
        )
        out.write('],\n"conversations": [\n')
        out.write(
            ",\n".join(
                json.dumps(
                    {
                        "id": f"conv_{t:06d}",
                        "user_id": f"usr_{t % users:06d}",
                        "title": f"Thread {t}",
                        "created_at": _stamp(users + t),
                        "updated_at": _stamp(users + t + year),
                    }
                )
                for t in range(threads)
            )
        )
        out.write('],\n"messages": [\n')
        number = 0
        for t, size in enumerate(sizes):
            step = year // size
            lines = []
            for m in range(size):
                lines.append(
                    json.dumps(
                        {
                            "id": f"msg_{number:07d}",
                            "conversation_id": f"conv_{t:06d}",
                            "user_id": f"usr_{t % users:06d}",
                            "role": "user" if m % 2 == 0 else "assistant",
                            "content": f"{number} {_FILLER}",
                            "created_at": _stamp(users + t + 1 + m * step),
                        }
                    )
                )
                number += 1
            out.write(("" if t == 0 else ",\n") + ",\n".join(lines))
        out.write('],\n"usage": [], "audit": [], "files": []}\n')


def _timed(*args: str, env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (MB) of one `python main.py` command."""
    result = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, "main.py", *args], env=env, capture_output=True, text=True
    )
    if result.returncode:
        raise SystemExit(result.stderr)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", result.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    assert wall and rss, result.stderr
    hours, minutes, seconds = wall.groups()
    print(result.stderr.splitlines()[0] if result.stderr else "", file=sys.stderr)
    return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds), int(rss.group(1)) // 1024


def run(path: Path, database_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "BDD_DIR": str(Path(folder) / "BDD"), "DATABASE_URL": database_url or ""}
        where = "PostgreSQL" if database_url else "TinyDB"
        seconds, megabytes = _timed("restore", str(path), env=env)
        print(f"{where} restore: {seconds:.1f} s, peak RSS {megabytes} MB")
        seconds, megabytes = _timed("dump", str(Path(folder) / "again.json"), env=env)
        print(f"{where} dump: {seconds:.1f} s, peak RSS {megabytes} MB")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        scale = int(sys.argv[3]) if len(sys.argv) > 3 else 1  # 10: a tenth (100,000 messages)
        make(Path(sys.argv[2]), users=2_000 // scale, threads=20_000 // scale, messages=1_000_000 // scale)
    else:
        run(Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
