"""A page of a longer list: the one shape every listing of the storage contract returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Page"]

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One slice of a longer list, with the length of the whole list.

    Only search sets `total_is_lower_bound`: it stops counting its matches past a cap.
    """

    items: list[T]
    total: int
    total_is_lower_bound: bool = False
