"""A tiny OpenAI-compatible chat server on 127.0.0.1, run in a background thread."""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOLD = "hold"  # a last message starting with this waits for `release()` before its answer
FAIL = "fail"  # a last message starting with this gets a 500 with an error body


@dataclass
class FakeChatServer:
    """Answers POST …/chat/completions with "echo: <last message>"; counts the calls."""

    max_delay: float = 0.0  # each answer waits up to this long, so turns overlap
    keep_alive: bool = False  # HTTP/1.1 persistent connections instead of one per call
    calls: int = 0
    held: int = 0  # calls waiting for `release()` right now
    client_ports: list[int] = field(default_factory=list)  # the caller's port, per call
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _released: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    def release(self) -> None:
        """Let every held answer go, and every later one through at once."""
        self._released.set()

    def wait_for_calls(self, count: int, *, held: int = 0, timeout: float = 10.0) -> None:
        """Block until `count` calls arrived and `held` of them wait; a generous bound, not a measure."""
        with self._lock:
            if not self._lock.wait_for(lambda: self.calls >= count and self.held >= held, timeout):
                raise TimeoutError(f"{self.calls} calls ({self.held} held), expected {count} ({held})")

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if owner.keep_alive else "HTTP/1.0"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                last = str(body.get("messages", [{}])[-1].get("content", ""))
                with owner._lock:
                    owner.calls += 1
                    owner.client_ports.append(self.client_address[1])
                    owner._lock.notify_all()
                if not self.path.endswith("/chat/completions"):
                    self._send(404, {"error": {"message": "not found"}})
                    return
                if body.get("stream"):
                    self._stream("echo: " + last, hold=last.startswith(HOLD))
                    return
                if last.startswith(HOLD):
                    self._hold()
                if last.startswith(FAIL):
                    self._send(500, {"error": {"message": "provider down", "code": 500}})
                    return
                if owner.max_delay:
                    time.sleep(random.uniform(0, owner.max_delay))
                text = "echo: " + last
                self._send(
                    200,
                    {
                        "id": "gen-1",
                        "object": "chat.completion",
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": text},
                                "finish_reason": "stop",
                            }
                        ],
                    },
                )

            def _hold(self) -> None:
                with owner._lock:
                    owner.held += 1
                    owner._lock.notify_all()
                owner._released.wait(timeout=60)
                with owner._lock:
                    owner.held -= 1

            def _stream(self, text: str, *, hold: bool) -> None:
                """The answer as an OpenAI-compatible stream, a word a chunk; held after the first."""
                words = text.split(" ")
                chunks = [word if i == 0 else " " + word for i, word in enumerate(words)]
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.close_connection = True
                    self.wfile.write(b": OPENROUTER PROCESSING\n\n")
                    for index, content in enumerate(chunks):
                        if hold and index == 1:
                            self.wfile.flush()
                            self._hold()
                        document = {"model": "fake/streamer", "choices": [{"delta": {"content": content}}]}
                        self.wfile.write(b"data: " + json.dumps(document).encode() + b"\n\n")
                        self.wfile.flush()
                    end = {"choices": [{"delta": {}, "finish_reason": "stop"}], "usage": {"total_tokens": 3}}
                    self.wfile.write(b"data: " + json.dumps(end).encode() + b"\n\ndata: [DONE]\n\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller stopped the answer, or was killed

            def _send(self, status: int, document: object) -> None:
                payload = json.dumps(document).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller was killed while we answered: expected in crash tests

            def log_message(self, *args: object) -> None:
                """Keep test output quiet."""

        self._server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 resets connections of a burst before they are accepted.
    request_queue_size = 256


@contextmanager
def fake_chat_server(max_delay: float = 0.0, *, keep_alive: bool = False) -> Iterator[FakeChatServer]:
    """A started fake upstream, shut down on exit."""
    server = FakeChatServer(max_delay=max_delay, keep_alive=keep_alive)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def raw_server(handle: Callable[[socket.socket, threading.Event], None]) -> Iterator[str]:
    """A TCP server on 127.0.0.1 calling `handle(connection, stop)` for each connection, one at a time.

    Yields its `host:port`; the connection is closed once `handle` returns.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                handle(connection, stop)

    worker = threading.Thread(target=serve, daemon=True)
    worker.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        worker.join(timeout=5)
        listener.close()


@contextmanager
def broken_server(behaviour: str) -> Iterator[str]:
    """A server on 127.0.0.1 that breaks every exchange; yields its address (`http://127.0.0.1:PORT`).

    `behaviour`: "close" hangs up without answering, "half-body" promises 1000 bytes of JSON and
    hangs up after a few, "silent" reads the request and never answers.
    """

    def misbehave(connection: socket.socket, stop: threading.Event) -> None:
        connection.recv(65536)
        if behaviour == "half-body":
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            connection.sendall(head + b'{"choices": [{"mess')
        elif behaviour == "silent":
            stop.wait(10)

    with raw_server(misbehave) as address:
        yield f"http://{address}"
