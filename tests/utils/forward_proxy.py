"""A tiny HTTP forward proxy on 127.0.0.1 that records what it is asked to do, run in threads."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from tests.utils.fake_upstream import raw_server

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authorization", "proxy-connection", "te", "upgrade"}


@dataclass(frozen=True)
class ProxiedRequest:
    """One request the proxy got: `POST http://host/path` forwarded, or `CONNECT host:port` tunnelled."""

    method: str
    target: str
    proxy_authorization: str | None


@dataclass
class ForwardProxy:
    """Forwards absolute-URI requests (plain HTTP) and tunnels CONNECT (HTTPS), like a school proxy."""

    requests: list[ProxiedRequest] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # one request per connection: simple and enough here

            def _record(self) -> None:
                owner.requests.append(
                    ProxiedRequest(self.command, self.path, self.headers.get("Proxy-Authorization"))
                )

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self._record()
                target = urlsplit(self.path)
                if target.scheme != "http" or not target.hostname:
                    self.send_error(400, "absolute http:// URI expected")
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                path = target.path + (f"?{target.query}" if target.query else "")
                upstream = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=30)
                try:
                    upstream.request("POST", path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    payload = answer.read()
                    self.send_response(answer.status)
                    for name, value in answer.getheaders():
                        if name.lower() not in _HOP_BY_HOP | {"content-length"}:
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                finally:
                    upstream.close()

            def do_CONNECT(self) -> None:  # noqa: N802 - http.server's naming
                self._record()
                host, _, port = self.path.rpartition(":")
                try:
                    far = socket.create_connection((host, int(port)), timeout=30)
                except (OSError, ValueError):
                    self.send_error(502, "cannot reach the target")
                    return
                self.send_response(200, "Connection established")
                self.end_headers()
                _pipe(self.connection, far)

            def log_message(self, *args: object) -> None:
                """Keep test output quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _pipe(near: socket.socket, far: socket.socket) -> None:
    """Copy bytes both ways until either side hangs up."""

    def copy(source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    back = threading.Thread(target=copy, args=(far, near), daemon=True)
    back.start()
    copy(near, far)
    back.join(timeout=30)
    far.close()


@contextmanager
def forward_proxy() -> Iterator[ForwardProxy]:
    """A started proxy, shut down on exit."""
    proxy = ForwardProxy()
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


@contextmanager
def first_bytes_server() -> Iterator[tuple[str, list[bytes]]]:
    """A TCP server on 127.0.0.1 that keeps the first bytes of each connection and hangs up.

    Yields its `host:port` and the list of what it got: behind a CONNECT tunnel, an HTTPS client's
    first bytes are a TLS ClientHello (a handshake record starts with 0x16).
    """
    received: list[bytes] = []

    def keep_first_bytes(connection: socket.socket, _: threading.Event) -> None:
        connection.settimeout(5)
        with suppress(OSError):
            received.append(connection.recv(65536))

    with raw_server(keep_first_bytes) as address:
        yield address, received
