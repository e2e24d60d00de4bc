"""The load side: sequential timed requests (httpx, keep-alive) and a lean asyncio burst client."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import httpx

__all__ = ["BurstResult", "Request", "burst", "percentile", "timed"]


@dataclass(frozen=True)
class Request:
    """One HTTP request of the burst."""

    method: str
    path: str
    token: str
    body: object


def timed(call: Callable[[], httpx.Response], count: int, *, warmup: int = 10) -> list[float]:
    """Milliseconds of `count` calls after `warmup` untimed ones; any non-2xx answer aborts the run."""
    for _ in range(warmup):
        call().raise_for_status()
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    return samples


def percentile(samples: Iterable[float], pct: int) -> float:
    """The pct-th percentile (inclusive method, so a p50 of an odd count is a real sample)."""
    return statistics.quantiles(list(samples), n=100, method="inclusive")[pct - 1]


@dataclass(frozen=True)
class BurstResult:
    """How a burst went: wall time from the first connect to the last answer, and each answer."""

    started: float  # time.monotonic()
    wall_seconds: float
    statuses: list[int]
    answered: list[float]  # seconds after the start, in request order

    @property
    def succeeded(self) -> int:
        return sum(200 <= status < 300 for status in self.statuses)


async def _one(port: int, request: Request) -> tuple[int, float]:
    status = await _exchange(port, request)
    return status, time.monotonic()


async def _exchange(port: int, request: Request) -> int:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return 0  # a refused connection counts as a failure
    try:
        body = json.dumps(request.body).encode()
        writer.write(
            f"{request.method} {request.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {request.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                await reader.readexactly(int(line.split(b":", 1)[1]))
        return status
    except (OSError, asyncio.IncompleteReadError):
        return 0  # a dropped connection counts as a failure
    finally:
        writer.close()


async def _burst(port: int, requests: list[Request]) -> BurstResult:
    start = time.monotonic()
    outcomes = await asyncio.gather(*(_one(port, request) for request in requests))
    return BurstResult(
        started=start,
        wall_seconds=time.monotonic() - start,
        statuses=[status for status, _ in outcomes],
        answered=[at - start for _, at in outcomes],
    )


def burst(port: int, requests: list[Request]) -> BurstResult:
    """Send every request at once, each on its own connection, as that many browsers would."""
    return asyncio.run(_burst(port, requests))
