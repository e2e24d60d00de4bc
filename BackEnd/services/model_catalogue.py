"""The models on offer (`GET /ai/models`): the upstream's list, cached and filtered by ALLOWED_MODELS."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx

from ..config import Settings
from ..records import is_storable_text

__all__ = ["ModelCatalogue", "ModelEntry"]

logger = logging.getLogger(__name__)

ModelEntry = dict[str, Any]  # {"id", "name", "context_length"}

_MODEL_ID = re.compile(r"[A-Za-z0-9_.:/@+-]{1,200}")
# A failed or empty answer is asked again sooner than a good one: the upstream may be back.
_RETRY_SECONDS = 60.0
_FETCH_SECONDS = 10.0
_MAX_MODELS = 5_000


class ModelCatalogue:
    """One per process: the upstream's list is fetched at most once per MODELS_CACHE_SECONDS."""

    def __init__(
        self, settings: Settings, client: httpx.AsyncClient, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._settings = settings
        self._client = client
        self._clock = clock
        self._lock = anyio.Lock()
        self._known: list[ModelEntry] | None = None
        self._fresh_until = float("-inf")

    async def models(self, default: str) -> list[ModelEntry]:
        """The models a caller may choose; never fails because of the upstream.

        With ALLOWED_MODELS, exactly those, in that order, described by the upstream when it
        knows them. Without, the upstream's list, or `default` alone when it has none.
        """
        known = await self._upstream_models()
        by_id = {entry["id"]: entry for entry in known}
        allowed = self._settings.allowed_models
        if allowed:
            return [by_id.get(model_id) or _bare(model_id) for model_id in allowed]
        return known or [_bare(default)]

    async def _upstream_models(self) -> list[ModelEntry]:
        async with self._lock:  # one fetch at a time: a burst of callers waits for the first
            if self._known is None or self._clock() >= self._fresh_until:
                fetched = await self._fetch()
                self._known = fetched or []
                good_for = self._settings.models_cache_seconds if fetched else _RETRY_SECONDS
                self._fresh_until = self._clock() + min(good_for, self._settings.models_cache_seconds)
            return self._known

    async def _fetch(self) -> list[ModelEntry] | None:
        if not self._settings.openrouter_api_key:
            return None
        try:
            with anyio.fail_after(min(_FETCH_SECONDS, self._settings.llm_timeout_seconds)):
                response = await self._client.get("/models")
        except (TimeoutError, httpx.HTTPError) as exc:
            logger.warning("The upstream's list of models is unavailable: %s", type(exc).__name__)
            return None
        if response.status_code != 200:
            logger.warning("The upstream's list of models answered HTTP %s", response.status_code)
            return None
        try:
            body = response.json()
        except (ValueError, RecursionError):
            return None
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            return None
        entries = [entry for entry in map(_entry, data[:_MAX_MODELS]) if entry is not None]
        return entries or None


def _bare(model_id: str) -> ModelEntry:
    return {"id": model_id, "name": model_id, "context_length": None}


def _entry(item: object) -> ModelEntry | None:
    """One upstream model as we show it, or None if it has no usable id."""
    if not isinstance(item, dict):
        return None
    model_id, name, context = item.get("id"), item.get("name"), item.get("context_length")
    if not isinstance(model_id, str) or not _MODEL_ID.fullmatch(model_id):
        return None
    if not isinstance(name, str) or not name.strip() or len(name) > 200 or not is_storable_text(name):
        name = model_id
    if isinstance(context, bool) or not isinstance(context, int) or not 0 < context < 10**9:
        context = None
    return {"id": model_id, "name": name.strip(), "context_length": context}
