"""Issue 10 figures: one turn asked of 3 models whose upstream calls each take 1 s, on the running server.

`several_models(upstream)` is an `extra` scenario of `scenarios.measure_size` (same server, data
set and tokens): the wall time of a 3-model `/ai/chat` turn, against the 1 s one call takes.
The plain `/ai/chat` p50 is the table's own `chat_p50`, measured with one model as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from .client import percentile
from .datasets import DataSet
from .report import Row
from .server import UpstreamProcess

__all__ = ["SEVERAL_ROWS", "several_models"]

SAMPLES = 15
UPSTREAM_SECONDS = 1.0
MODELS = ["bench/one", "bench/two", "bench/three"]
SEVERAL_ROWS = [
    Row(
        "three_models_wall_s",
        f"a turn of 3 models, each upstream call {UPSTREAM_SECONDS:g} s: wall p50",
        "s",
        "≤ 1.1 s",
        lambda figures, largest: figures[largest]["three_models_wall_s"] <= 1.1,
    ),
    Row("three_models_spread_ms", "the 3 calls' arrivals upstream: spread p50", "ms"),
]
Extra = Callable[[httpx.Client, DataSet, int, dict[str, str]], dict[str, float]]


def several_models(upstream: UpstreamProcess) -> Extra:
    """The scenario, bound to the fake upstream whose latency it sets (and resets to 0)."""

    def measure(client: httpx.Client, data: DataSet, _reads: int, tokens: dict[str, str]) -> dict[str, float]:
        walls, spreads = [], []
        try:
            for index, conversation_id in enumerate(data.conversations_with_messages[: SAMPLES + 2]):
                upstream.set_latency(UPSTREAM_SECONDS)  # also forgets the arrivals seen so far
                headers = {"Authorization": f"Bearer {tokens[data.owner_of[conversation_id]]}"}
                body = {"message": "Compare, please", "conversation_id": conversation_id, "models": MODELS}
                start = time.perf_counter()
                client.post("/ai/chat", json=body, headers=headers).raise_for_status()
                wall = time.perf_counter() - start
                arrivals = upstream.arrivals()
                if index >= 2:  # the first two warm the connections up
                    walls.append(wall)
                    spreads.append(1000 * (max(arrivals) - min(arrivals)))
        finally:
            upstream.set_latency(0.0)
        return {
            "three_models_wall_s": percentile(walls, 50),
            "three_models_spread_ms": percentile(spreads, 50),
        }

    return measure
