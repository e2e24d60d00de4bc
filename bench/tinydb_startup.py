"""TinyDB start-up at a school year's size: writes a folder as the version before stored summaries did, then
measures start-up to first answer and peak memory (old code, the one-time conversion, a converted start).

    python -m bench.tinydb_startup build /tmp/year            # 1,000,000 messages, 2,000 users
    python -m bench.tinydb_startup measure /tmp/year [--root /path/to/an/older/checkout]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bcrypt

from BackEnd.record_checks import stored_conversation
from BackEnd.records import conversation_record

from .server import ROOT, Process, bench_env, free_port

# About 600 bytes, the size of a typical student question or model answer (as datasets.py).
_FILLER = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 10
_START = datetime(2025, 9, 1, 8, tzinfo=UTC)
_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"
_SCHOOL_DAYS = 200


def build(folder: Path, *, users: int = 2000, threads: int = 20000, messages: int = 1_000_000) -> None:
    """Write the folder in the layout before stored summaries: no `summary`, no layout.json.

    20 threads hold 5,000 messages each (a term-long thread); the rest share what is left. Every
    other message is an answer with its model and usage, as the chat stores it.
    """
    if folder.exists():
        shutil.rmtree(folder)
    for name in ("conversations", "historique", "usage", "credits", "files"):
        (folder / name).mkdir(parents=True)
    password = bcrypt.hashpw(b"bench-password", bcrypt.gensalt(4)).decode()
    user_ids = [f"usr_{n:032x}" for n in range(users)]
    sizes = [5000] * 20 + _spread(messages - 20 * 5000, threads - 20)
    records: dict[str, list[dict[str, object]]] = {user_id: [] for user_id in user_ids}
    number = 0
    for thread, size in enumerate(sizes):
        user_id, conversation_id = user_ids[thread % users], f"conv_{thread:032x}"
        span = min(max(size // 10, 1), _SCHOOL_DAYS)  # a long thread runs all year, a short one a few days
        first = _START + timedelta(days=thread % (_SCHOOL_DAYS - span + 1))
        lines = []
        for index in range(size):
            moment = (first + timedelta(days=index * span // size, seconds=index)).strftime(_STAMP)
            message = _message(f"msg_{number:032x}", user_id, conversation_id, index, moment)
            lines.append(b'"%d": %s' % (index + 1, json.dumps(message, ensure_ascii=False).encode()))
            number += 1
        (folder / "historique" / f"{conversation_id}.json").write_bytes(
            b'{"messages": {\n' + b",\n".join(lines) + b"\n}}"
        )
        record = conversation_record(user_id, f"Thread {thread}", at=first.strftime(_STAMP))
        records[user_id].append(stored_conversation({**record, "id": conversation_id}))
    for user_id, conversations in records.items():
        table = {str(key + 1): conversation for key, conversation in enumerate(conversations)}
        (folder / "conversations" / f"{user_id}.json").write_text(
            json.dumps({"conversations": table}, ensure_ascii=False)
        )
    accounts = {str(n + 1): _user(user_id, n, password) for n, user_id in enumerate(user_ids)}
    (folder / "users.json").write_text(json.dumps({"users": accounts}, indent=2))


def _spread(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if n < total % parts else 0) for n in range(parts)]


def _message(
    message_id: str, user_id: str, conversation_id: str, index: int, moment: str
) -> dict[str, object]:
    answer = index % 2 == 1
    return {
        "id": message_id,
        "conversation_id": conversation_id,
        "user_id": user_id,
        "role": "assistant" if answer else "user",
        "content": f"{index} {_FILLER}",
        "created_at": moment,
        "model": "bench/model" if answer else None,
        "finish_reason": "stop" if answer else None,
        "usage": {"prompt_tokens": 150, "completion_tokens": 150, "total_tokens": 300, "cost": 0.0001}
        if answer
        else None,
    }


def _user(user_id: str, number: int, password: str) -> dict[str, object]:
    return {
        "id": user_id,
        "email": f"student{number}@school.example",
        "name": f"student{number}",
        "role": "user",
        "password_hash": password,
        "created_at": _START.strftime(_STAMP),
        "is_active": True,
        "last_login_at": None,
        "credits": None,
        "token_generation": 0,
    }


def start(folder: Path, root: Path, label: str) -> tuple[float, float, str]:
    """Start `root`'s server on the folder: seconds to first answer, peak RSS in MB, its log."""
    env = bench_env(folder, None, PORT=str(free_port()))
    log = folder.parent / f"{folder.name}-{label}.log"
    process = Process([str(root / "main.py")], env, log)
    try:
        seconds = process.wait_first_answer("/", timeout=600)
        peak = process.peak_rss_mb()
    finally:
        process.stop()
    return seconds, peak, log.read_text()


def measure(folder: Path, older: Path | None) -> None:
    """Older code (if given) on the unconverted folder, then the conversion, then a converted start."""
    runs = [("older", older), ("older-again", older)] if older else []
    runs += [("conversion", ROOT), ("converted", ROOT), ("converted-again", ROOT)]
    for label, root in runs:
        assert root is not None
        seconds, peak, log = start(folder, root, label)
        converted = re.search(r"converted data folder .*", log)
        detail = f" ({converted.group(0)})" if converted else ""
        print(f"{label}: first answer in {seconds:.2f} s, peak RSS {peak:.0f} MB{detail}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["build", "measure"])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--root", type=Path, help="a checkout of the code before stored summaries")
    parser.add_argument("--messages", type=int, default=1_000_000)
    arguments = parser.parse_args()
    if arguments.action == "build":
        build(arguments.folder, messages=arguments.messages)
    else:
        measure(arguments.folder, arguments.root)


if __name__ == "__main__":
    main()
