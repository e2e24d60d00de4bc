"""uvicorn's httptools protocol with a header size cap, a header deadline and a connection cap.

uvicorn 0.54 gives httptools no limit on header size (httptools joins each header in memory),
no deadline for a request's headers, and only answers 503 past `limit_concurrency` once a
connection has sent its headers: a bare server on a school network needs all three.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from .limits import ConnectionLimits

__all__ = ["GuardedHttpToolsProtocol"]

logger = logging.getLogger("uvicorn.error")

# One line per minute at most while connections are turned away: a flood must not flood the log.
_CAP_WARNING_INTERVAL_SECONDS = 60.0


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """One client connection; uvicorn builds it through `functools.partial(..., limits=...)`."""

    _cap_warned_at: float | None = None

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ConnectionLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self.timeout_keep_alive = limits.keepalive_timeout_seconds  # type: ignore[assignment]
        self._reading_headers = True  # between two requests too, until the next one's headers end
        self._header_bytes = 0  # of the request being read, counted before httptools buffers them
        # When the headers being awaited were first awaited (None: none are), and one timer that
        # checks it, re-armed only when it fires: a timer per request measured 5-10 µs each.
        self._headers_since: float | None = None
        self._header_timer: asyncio.TimerHandle | None = None
        self._ignoring_input = False  # refused: what the client still sends is dropped unread
        self._headers_parsed = 0  # requests whose headers ended on this connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            # Turned away before it is counted or read: its fd is freed at once.
            self.transport = transport
            self._warn_cap_reached()
            self._answer_and_close(
                503, "The server has too many open connections; try again shortly.", retry_after=True
            )
            return
        super().connection_made(transport)
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._ignoring_input:
            return
        if not self._reading_headers:
            super().data_received(data)
            return
        if self._headers_since is None:  # the first bytes of a request on a kept-alive connection
            self._await_headers()
        room = self.limits.max_header_bytes - self._header_bytes
        if len(data) <= room:
            self._header_bytes += len(data)
            super().data_received(data)
            return
        # Feed only what fits: if the headers have not ended within it, they are too large,
        # and the rest is never handed to httptools.
        self._header_bytes = self.limits.max_header_bytes
        parsed_before = self._headers_parsed
        super().data_received(data[:room])
        if (
            self._headers_parsed == parsed_before
            and not self._ignoring_input
            and not self.transport.is_closing()
        ):
            self._refuse_large_headers()
        elif not self.transport.is_closing():
            self.data_received(data[room:])

    def _refuse_large_headers(self) -> None:
        client = f"{self.client[0]}:{self.client[1]} - " if self.client else ""
        logger.warning("%sRequest headers over %d bytes refused.", client, self.limits.max_header_bytes)
        self._refuse(431, f"Request headers too large: the limit is {self.limits.max_header_bytes} bytes.")

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._headers_parsed += 1
        self._headers_since = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_headers = True
        self._header_bytes = 0

    def _await_headers(self) -> None:
        self._headers_since = self.loop.time()
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.limits.header_timeout_seconds, self._check_headers)

    def _check_headers(self) -> None:
        self._header_timer = None
        if self._headers_since is None or self.transport.is_closing():
            return  # no headers awaited now: the next request's first bytes arm the timer again
        left = self._headers_since + self.limits.header_timeout_seconds - self.loop.time()
        if left > 0:  # these headers were first awaited after the timer was armed
            self._header_timer = self.loop.call_later(left, self._check_headers)
        elif self._header_bytes == 0:  # nothing of a request came: close quietly, as keep-alive does
            self.transport.close()
        else:
            seconds = f"{self.limits.header_timeout_seconds:g}"
            self._refuse(408, f"Request headers not received within {seconds} s.")

    def _refuse(self, status: int, detail: str) -> None:
        self._ignoring_input = True
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined request went wrong while an earlier answer is being written:
            # finish that answer, then close.
            self.cycle.keep_alive = False
            return
        self._answer_and_close(status, detail)

    def _answer_and_close(self, status: int, detail: str, *, retry_after: bool = False) -> None:
        self._ignoring_input = True
        body = json.dumps({"detail": detail}).encode()
        headers = [
            *self.server_state.default_headers,
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        if retry_after:
            headers.append((b"retry-after", b"1"))
        head = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        self.transport.write(STATUS_LINE[status] + head + b"\r\n" + body)
        self.transport.close()

    def _warn_cap_reached(self) -> None:
        now = self.loop.time()
        last = GuardedHttpToolsProtocol._cap_warned_at
        if last is None or now - last >= _CAP_WARNING_INTERVAL_SECONDS:
            GuardedHttpToolsProtocol._cap_warned_at = now
            logger.warning(
                "MAX_CONNECTIONS (%d) reached: new connections get 503 until some close.",
                self.limits.max_connections,
            )
