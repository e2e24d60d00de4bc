"""Issue 11's figures: the filtered conversation list and `GET /auth/me/stats`, on a served data set.

Each account first gets a few threads organised over HTTP (a folder, tags, a favourite and an
archived one), then both requests are timed across accounts, after the bench's other reads.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import httpx

from .client import percentile, timed
from .datasets import DataSet
from .report import Figures, Row

__all__ = ["ORGANISING_ROWS", "measure_organising"]

ORGANISED_PER_USER = 4
# Every filter at once and the title order: the list's most expensive shape.
FILTERED = {
    "folder": "Cours",
    "tag": ["exam"],
    "favorite": "true",
    "q": "thread",
    "sort": "title",
    "archived": "all",
}


def _below(key: str, limit: float) -> Callable[[Figures, int], bool]:
    return lambda figures, largest: figures[largest][key] <= limit


ORGANISING_ROWS = [
    Row(
        "filtered_list_p50",
        "`GET /conversations` with every filter, title order, p50",
        "ms",
        ratio_to="root_p50",
    ),
    Row("stats_p50", "`GET /auth/me/stats` p50", "ms", "≤ 10 ms", _below("stats_p50", 10), "root_p50"),
]


def measure_organising(
    client: httpx.Client, data: DataSet, reads: int, headers_of: Callable[[str], dict[str, str]]
) -> dict[str, float]:
    """Organise a few threads per account, then time the filtered list and the stats."""
    threads: dict[str, list[str]] = {}
    for conversation_id, owner in data.owner_of.items():
        threads.setdefault(owner, []).append(conversation_id)
    for owner, owned in threads.items():
        for index, conversation_id in enumerate(owned[:ORGANISED_PER_USER]):
            changes = {
                "folder": "Cours",
                "tags": ["exam", f"chapitre {index}"],
                "is_favorite": index % 2 == 0,
                "archived": index == ORGANISED_PER_USER - 1,
            }
            client.patch(
                f"/conversations/{conversation_id}", json=changes, headers=headers_of(owner)
            ).raise_for_status()
    users = itertools.cycle(data.user_ids)
    filtered = timed(
        lambda: client.get("/conversations", params=FILTERED, headers=headers_of(next(users))), reads
    )
    stats = timed(lambda: client.get("/auth/me/stats", headers=headers_of(next(users))), reads)
    return {"filtered_list_p50": percentile(filtered, 50), "stats_p50": percentile(stats, 50)}
