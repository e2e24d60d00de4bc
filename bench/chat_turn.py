"""Chat-turn latency against stored history size: real server, fake instant upstream, over HTTP.

Usage: python bench/chat_turn.py [--sizes 100,100000] [--turns 200]
Prints p50/p95 of a chat turn in an existing conversation for each size, and `GET /` in the
same server as the framework's baseline.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import bcrypt
import httpx

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password"
FILLER = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 11  # ~600 bytes


class _Upstream(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps(
            {"choices": [{"message": {"role": "assistant", "content": "ok " + FILLER}}]}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_dump(messages: int, users: int, conversations: int) -> dict[str, object]:
    """A realistic data set: messages of ~600 bytes spread evenly over conversations and users."""
    password_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    stamp = "2026-01-01T00:00:00.{:06d}Z"
    dump_users = [
        {
            "id": f"usr_{u:06d}",
            "email": f"student{u}@school.example",
            "name": f"student{u}",
            "role": "user",
            "password_hash": password_hash,
            "created_at": stamp.format(0),
        }
        for u in range(users)
    ]
    dump_conversations = [
        {
            "id": f"conv_{c:06d}",
            "user_id": f"usr_{c % users:06d}",
            "title": f"Thread {c}",
            "created_at": stamp.format(0),
            "updated_at": stamp.format(0),
        }
        for c in range(conversations)
    ]
    dump_messages = []
    for m in range(messages):
        c = m % conversations
        dump_messages.append(
            {
                "id": f"msg_{m:07d}",
                "conversation_id": f"conv_{c:06d}",
                "user_id": f"usr_{c % users:06d}",
                "role": "user" if (m // conversations) % 2 == 0 else "assistant",
                "content": f"{m} {FILLER}",
                "created_at": stamp.format(m % 1_000_000),
            }
        )
    last_message_at = {message["conversation_id"]: message["created_at"] for message in dump_messages}
    for conversation in dump_conversations:  # as the server keeps them: updated at the last message
        conversation["updated_at"] = last_message_at.get(conversation["id"], conversation["created_at"])
    return {
        "format": "assistantia-dump",
        "version": 1,
        "users": dump_users,
        "conversations": dump_conversations,
        "messages": dump_messages,
    }


def measure(size: int, turns: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "BDD"
        dump_path = Path(tmp) / "dump.json"
        dump_path.write_text(
            json.dumps(make_dump(size, min(200, max(1, size // 20)), min(2000, max(1, size // 10))))
        )
        env = {**os.environ, "BDD_DIR": str(data_dir), "JWT_SECRET": "b" * 64, "BCRYPT_ROUNDS": "4"}
        subprocess.run(
            [sys.executable, "main.py", "restore", str(dump_path)],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
        threading.Thread(target=upstream.serve_forever, daemon=True).start()
        port = _free_port()
        env |= {
            "PORT": str(port),
            "OPENROUTER_API_KEY": "bench",
            "OPENROUTER_BASE_URL": f"http://127.0.0.1:{upstream.server_address[1]}/v1",
        }
        server = subprocess.Popen(
            [sys.executable, "main.py"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                for _ in range(200):
                    try:
                        client.get("/")
                        break
                    except httpx.TransportError:
                        time.sleep(0.05)
                token = client.post(
                    "/auth/login", json={"email": "student0@school.example", "password": PASSWORD}
                ).json()["access_token"]
                headers = {"Authorization": f"Bearer {token}"}
                threads = [c["id"] for c in client.get("/conversations", headers=headers).json()["items"]]
                rotation = itertools.cycle(
                    threads
                )  # spread turns like a real user, not one ever-growing thread

                def turn() -> httpx.Response:
                    body = {"message": "Explain it again, please.", "conversation_id": next(rotation)}
                    return client.post("/ai/chat", json=body, headers=headers)

                chat = _timed(turn, turns)
                root = _timed(lambda: client.get("/"), turns)
        finally:
            server.kill()
            server.wait()
            upstream.shutdown()
    return {"chat_p50": _pct(chat, 50), "chat_p95": _pct(chat, 95), "root_p50": _pct(root, 50)}


def _timed(call: object, count: int) -> list[float]:
    for _ in range(10):  # warm-up
        call()  # type: ignore[operator]
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        response = call()  # type: ignore[operator]
        samples.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    return samples


def _pct(samples: list[float], pct: int) -> float:
    return statistics.quantiles(samples, n=100)[pct - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100,100000")
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()
    print("| stored messages | chat turn p50 | chat turn p95 | GET / p50 (baseline) | p50 / baseline |")
    print("|---:|---:|---:|---:|---:|")
    for size in (int(s) for s in args.sizes.split(",")):
        r = measure(size, args.turns)
        print(
            f"| {size:,} | {r['chat_p50']:.2f} ms | {r['chat_p95']:.2f} ms | {r['root_p50']:.2f} ms | "
            f"{r['chat_p50'] / r['root_p50']:.1f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
