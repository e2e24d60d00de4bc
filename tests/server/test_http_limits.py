"""The bare `python main.py` server under hostile raw sockets: huge or slow headers, idle and excess connections."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.utils.raw_http import (
    WAIT,
    closed_by_server,
    connect,
    read_response,
    read_until_closed,
    request_of_exactly,
    rss_mb,
    status_and_detail,
    stream_header,
    trickle,
)
from tests.utils.records import PASSWORD
from tests.utils.server import ServerProcess, running_server

MAX_HEADER_BYTES = 16 * 1024  # the default, which these tests keep


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server with 1 s deadlines, so that waiting for them keeps the suite quick."""
    folder = tmp_path_factory.mktemp("http-limits")
    with running_server(
        folder / "BDD", folder / "server.log", HEADER_TIMEOUT_SECONDS="1", KEEPALIVE_TIMEOUT_SECONDS="1"
    ) as started:
        yield started


def test_headers_up_to_the_limit_are_served_and_one_byte_more_is_a_431(server: ServerProcess) -> None:
    with connect(server) as fitting, connect(server) as oversize:
        fitting.sendall(request_of_exactly(MAX_HEADER_BYTES))
        oversize.sendall(request_of_exactly(MAX_HEADER_BYTES + 1))
        served, refused = read_until_closed(fitting), read_until_closed(oversize)
    assert served is not None and served.startswith(b"HTTP/1.1 200 "), served
    assert refused is not None, "the connection was left open"
    assert status_and_detail(refused) == (
        431,
        f"Request headers too large: the limit is {MAX_HEADER_BYTES} bytes.",
    )


def test_pipelined_requests_read_in_one_chunk_past_the_limit_are_all_served(server: ServerProcess) -> None:
    body = b"b" * (MAX_HEADER_BYTES - 200)  # the second request starts inside the first 16 KB read
    first = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    second = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: " + b"p" * 1000 + b"\r\n\r\n"
    with connect(server) as sock:
        sock.sendall(first + second)
        answers = read_until_closed(sock)
    assert answers is not None and b" 431 " not in answers
    assert answers.count(b"HTTP/1.1 ") == 2 and b"HTTP/1.1 200 " in answers, answers


def test_64_mb_authorization_header_is_refused_unread_and_the_connection_closed(
    server: ServerProcess,
) -> None:
    with connect(server) as sock:
        sent = stream_header(sock, megabytes=64)
        answer = read_until_closed(sock)
    assert answer is not None, "the connection was left open"
    assert status_and_detail(answer)[0] == 431
    # What the kernels' socket buffers took before the reset: far from the 64 MB offered.
    assert sent < 16 * 1024 * 1024, f"the server took {sent} bytes"


def test_memory_stays_flat_while_clients_stream_endless_headers(server: ServerProcess) -> None:
    before = rss_mb(server.pid)
    peak = before
    senders = [connect(server) for _ in range(4)]
    threads = [threading.Thread(target=stream_header, args=(sock, 32)) for sock in senders]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        peak = max(peak, rss_mb(server.pid))
        time.sleep(0.02)
    peak = max(peak, rss_mb(server.pid))
    for sock in senders:
        sock.close()
    assert peak - before < 30, f"RSS went from {before:.0f} MB to {peak:.0f} MB"


def test_slowloris_is_answered_408_and_closed_at_the_header_deadline(server: ServerProcess) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        trickle(sock, b"X")  # a never-ending header name: the deadline counts from the start
        answer = read_until_closed(sock, timeout=1.0)
    assert answer is not None, "the connection was still open after 20 s"
    assert status_and_detail(answer) == (408, "Request headers not received within 1 s.")


def test_silent_connections_are_closed_without_an_answer(server: ServerProcess) -> None:
    silent = [connect(server) for _ in range(50)]
    try:
        answers = closed_by_server(silent, within=WAIT)
    finally:
        for sock in silent:
            sock.close()
    assert answers == [b""] * 50


def test_idle_kept_alive_connection_is_closed(server: ServerProcess) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        # KEEPALIVE_TIMEOUT_SECONDS=1; uvicorn's own default would be 5 s.
        assert read_until_closed(sock, timeout=4.0) == b""


def test_next_request_trickled_on_a_kept_alive_connection_is_cut_at_the_header_deadline(
    server: ServerProcess,
) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET / HTTP/1.1\r\nX-Slow: ")
        trickle(sock, b"a")
        answer = read_until_closed(sock, timeout=1.0)
    assert answer is not None, "the connection was still open after 20 s"
    assert status_and_detail(answer)[0] == 408


def test_connections_past_the_cap_get_503_while_accepted_clients_are_still_served(
    tmp_path: Path, data_dir: Path
) -> None:
    cap, open_files, flood = 20, 600, 700
    with running_server(
        data_dir,
        tmp_path / "server.log",
        open_files=open_files,
        MAX_CONNECTIONS=str(cap),
        HEADER_TIMEOUT_SECONDS="60",
        KEEPALIVE_TIMEOUT_SECONDS="60",
    ) as server:
        with httpx.Client(base_url=server.url, trust_env=False, timeout=WAIT) as teacher:
            assert teacher.get("/").status_code == 200  # this connection is kept alive
            crowd = [connect(server) for _ in range(flood)]
            try:
                answers = closed_by_server(crowd, within=3.0)
                server_fds = len(os.listdir(f"/proc/{server.pid}/fd"))
                # The accepted client can still sign up: the server has fds left for its files.
                signed_up = teacher.post(
                    "/auth/register", json={"email": "teacher@example.com", "password": PASSWORD}
                )
            finally:
                for sock in crowd:
                    sock.close()
        assert signed_up.status_code == 201, signed_up.text
        still_open = sum(answer is None for answer in answers)
        refused = [answer for answer in answers if answer is not None]
        assert still_open == cap - 1, f"{still_open} of {flood} connections were left open"
        assert all(answer.startswith(b"HTTP/1.1 503 ") for answer in refused), refused[:3]
        assert b"retry-after: 1" in refused[0]
        assert (
            status_and_detail(refused[0])[1] == "The server has too many open connections; try again shortly."
        )
        assert server_fds < cap + 100, f"the server holds {server_fds} fds"
        # Once the crowd has left, a new client is served again.
        deadline = time.monotonic() + WAIT
        while (status := httpx.get(server.url + "/", trust_env=False).status_code) != 200:
            assert time.monotonic() < deadline, f"still {status} after the crowd left"
            time.sleep(0.1)


def test_a_cap_the_open_file_limit_cannot_serve_stops_start_up_with_one_line(
    tmp_path: Path, data_dir: Path
) -> None:
    server = ServerProcess(data_dir, tmp_path / "server.log", open_files=600, MAX_CONNECTIONS="100")
    try:
        assert server.process.wait(timeout=WAIT) == 2
        assert "error: MAX_CONNECTIONS=100 needs at least 612 open files per process" in server.output()
    finally:
        server.stop()


def test_the_default_cap_leaves_room_under_a_low_open_file_limit(tmp_path: Path, data_dir: Path) -> None:
    with running_server(data_dir, tmp_path / "server.log", open_files=600) as server:
        assert "Limits per server process: 88 connections" in server.output()


def test_every_worker_process_applies_the_limits(tmp_path: Path, data_dir: Path) -> None:
    with running_server(
        data_dir,
        tmp_path / "server.log",
        WORKERS="2",
        DATABASE_URL=f"sqlite:///{tmp_path / 'app.db'}",
        HEADER_TIMEOUT_SECONDS="1",
    ) as server:
        oversize = [connect(server) for _ in range(6)]
        silent = [connect(server) for _ in range(6)]
        for sock in oversize:
            sock.sendall(request_of_exactly(MAX_HEADER_BYTES + 1))
        refused = closed_by_server(oversize, within=WAIT)
        closed = closed_by_server(silent, within=WAIT)
        for sock in oversize + silent:
            sock.close()
    assert all(answer is not None and answer.startswith(b"HTTP/1.1 431 ") for answer in refused), refused
    assert closed == [b""] * 6
