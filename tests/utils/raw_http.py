"""Raw-socket HTTP/1.1 clients for attacking a real server: partial, endless or slow requests."""

from __future__ import annotations

import json
import select
import selectors
import socket
import time
from pathlib import Path

from tests.utils.server import ServerProcess

WAIT = 20.0  # fail-safe bound for "the server closed it"
CHUNK = b"a" * 65536


def rss_mb(pid: int) -> float:
    """The resident memory of process `pid`, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def connect(server: ServerProcess) -> socket.socket:
    """A client socket to `server` whose calls give up after WAIT seconds."""
    return socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)


def read_until_closed(sock: socket.socket, timeout: float = WAIT) -> bytes | None:
    """Everything the server sends until it closes; None if it is still open after `timeout`."""
    received = b""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return None
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk
    return None


def read_response(sock: socket.socket) -> bytes:
    """One whole response with a Content-Length, leaving the connection open."""
    sock.settimeout(WAIT)
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(
        next(line for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:"))[15:]
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def closed_by_server(socks: list[socket.socket], within: float) -> list[bytes | None]:
    """For each socket, what the server sent before closing it; None if open after `within` s."""
    answers: list[bytes | None] = [None] * len(socks)
    with selectors.DefaultSelector() as watching:  # epoll: select() stops at fd 1,024
        for index, sock in enumerate(socks):
            watching.register(sock, selectors.EVENT_READ, index)
        deadline = time.monotonic() + within
        while watching.get_map() and (left := deadline - time.monotonic()) > 0:
            for key, _ in watching.select(left):
                watching.unregister(key.fileobj)
                answers[key.data] = read_until_closed(socks[key.data], timeout=5.0)
    return answers


def trickle(sock: socket.socket, byte: bytes) -> None:
    """Send `byte` every 0.2 s until the server answers or closes, for at most WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and not select.select([sock], [], [], 0.2)[0]:
        try:
            sock.sendall(byte)
        except OSError:  # closed under us: what it sent is read next
            return


def stream_header(sock: socket.socket, megabytes: int) -> int:
    """Send one endless `Authorization` header, stopping when the server cuts in; bytes sent."""
    sent = 0
    try:
        sock.sendall(b"GET /auth/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ")
        for _ in range(megabytes * 16):
            sock.sendall(CHUNK)
            sent += len(CHUNK)
    except OSError:  # reset by the server: what it refuses to read
        pass
    return sent


def status_and_detail(answer: bytes) -> tuple[int, str]:
    """The status and the JSON `detail` of one whole response."""
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)["detail"]


def request_of_exactly(size: int) -> bytes:
    """A `GET /` whose request line and headers take exactly `size` bytes."""
    start, end = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: ", b"\r\n\r\n"
    return start + b"p" * (size - len(start) - len(end)) + end
