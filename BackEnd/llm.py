"""The upstream chat model: one OpenAI-compatible `/chat/completions` call per turn."""

from __future__ import annotations

import logging
import re
from email.utils import parsedate_to_datetime
from typing import Any

import anyio
import httpx

from .config import Settings
from .errors import UpstreamBadResponse, UpstreamNotConfigured, UpstreamRateLimited, UpstreamTimeout

__all__ = ["ChatModel", "PoolSet", "build_upstream_client"]

logger = logging.getLogger(__name__)

_STATUS_MESSAGES = {
    400: "The AI service rejected the request.",
    401: "The AI service rejected the server's API key; the administrator must check it.",
    402: "The AI service account has run out of credits; the administrator must top it up.",
    403: "The AI service refused to answer this message.",
    404: "The AI service does not know the configured model.",
}
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_UNAVAILABLE = "The AI service is unavailable right now; try again in a moment."


def build_upstream_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The one HTTP client the app keeps for its whole life."""
    headers = {"HTTP-Referer": settings.openrouter_site_url, "X-Title": settings.openrouter_app_name}
    if settings.openrouter_api_key:
        headers["Authorization"] = f"Bearer {settings.openrouter_api_key}"
    return httpx.AsyncClient(
        base_url=settings.openrouter_base_url,
        headers=headers,
        timeout=settings.llm_timeout_seconds,
        transport=transport or PoolSet(pools=25, connections_per_pool=10, keep_alive_per_pool=4),
    )


class PoolSet(httpx.AsyncBaseTransport):
    """Several small connection pools; each call goes to the least busy one.

    httpcore 1.0's pool looks at every connection for each idle one whenever a request
    starts or ends, so its cost per call grows with the square of the connections it
    keeps (measured: 100 kept-alive connections cost 23 ms of CPU per call). One pool
    must then keep few connections alive, and a class's burst of 100 chats reconnects
    (DNS, TCP, TLS) 90 times. 25 pools of 4 keep 100 alive while each scan stays small
    (measured: 10 pools of 10 cost a third more event-loop CPU per chat in a burst).
    Ties go to the first pool, so at low traffic one warm connection serves every call.
    """

    def __init__(self, *, pools: int, connections_per_pool: int, keep_alive_per_pool: int) -> None:
        limits = httpx.Limits(
            max_connections=connections_per_pool, max_keepalive_connections=keep_alive_per_pool
        )
        # One TLS context for all: each loads the CA bundle (measured: 25 of them 0.8 s at start-up).
        tls = httpx.create_ssl_context()
        self._pools = [httpx.AsyncHTTPTransport(verify=tls, limits=limits) for _ in range(pools)]
        self._in_flight = [0] * pools

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = min(range(len(self._pools)), key=self._in_flight.__getitem__)
        self._in_flight[index] += 1
        try:
            return await self._pools[index].handle_async_request(request)
        finally:
            self._in_flight[index] -= 1

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()


class ChatModel:
    """Sends a conversation to the provider and returns the answer text, or raises UpstreamError."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient) -> None:
        self._client = client
        self._model = settings.openrouter_model
        self._timeout = settings.llm_timeout_seconds
        self._api_key = settings.openrouter_api_key

    async def complete(self, messages: list[dict[str, str]]) -> str:
        """The model's answer to `messages` (system prompt first, newest message last)."""
        if not self._api_key:
            raise UpstreamNotConfigured(
                "The AI service is not configured on this server: "
                "the administrator must set OPENROUTER_API_KEY."
            )
        try:
            # httpx's timeout is per read; the product promises a limit on the whole call.
            with anyio.fail_after(self._timeout):
                response = await self._client.post(
                    "/chat/completions", json={"model": self._model, "messages": messages}
                )
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise UpstreamTimeout(f"The AI service did not answer within {self._timeout:g} seconds.") from exc
        except httpx.HTTPError as exc:
            logger.warning("Upstream call failed: %s", self._scrub(repr(exc)))
            raise UpstreamBadResponse("The AI service could not be reached; try again in a moment.") from exc
        return self._answer_from(response)

    def _answer_from(self, response: httpx.Response) -> str:
        if response.status_code >= 400:
            self._log_rejection(response)
            if response.status_code == 429:
                raise UpstreamRateLimited(
                    "The AI service is receiving too many requests; try again shortly.",
                    retry_after=_valid_retry_after(response.headers.get("Retry-After")),
                )
            if response.status_code == 408:
                raise UpstreamTimeout("The AI service timed out while answering.")
            raise UpstreamBadResponse(_STATUS_MESSAGES.get(response.status_code, _UNAVAILABLE))
        try:
            body = response.json()
        except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested too deeply
            self._log_rejection(response)
            raise UpstreamBadResponse("The AI service sent an unreadable answer.") from exc
        answer = _extract_answer(body)
        if answer is None:
            self._log_rejection(response)
            raise UpstreamBadResponse("The AI service sent an error or an empty answer.")
        return answer

    def _log_rejection(self, response: httpx.Response) -> None:
        logger.warning("Upstream answered %s: %s", response.status_code, self._scrub(response.text)[:500])

    def _scrub(self, text: str) -> str:
        # Logs are read by people who must not learn the key, even if an upstream echoes it.
        return text.replace(self._api_key, "***") if self._api_key else text


def _valid_retry_after(value: str | None) -> str | None:
    """The upstream's Retry-After if it is one (seconds, or an HTTP date), else None.

    It is copied into our own response, where other text could break the headers (a NUL, or
    a character outside Latin-1, makes the response impossible to send).
    """
    value = (value or "").strip()
    if not value.isascii() or not value.isprintable() or len(value) > 40:
        return None
    if value.isdigit():
        return value
    try:
        parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return value


def _extract_answer(body: Any) -> str | None:
    """The text of the first choice, or None for an error body or an unusable answer."""
    if not isinstance(body, dict) or body.get("error"):
        return None
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    choice = choices[0]
    if choice.get("finish_reason") == "error":
        return None
    message = choice.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # content parts, as some OpenAI-compatible servers send
        texts = (part.get("text") for part in content if isinstance(part, dict))
        content = "".join(text for text in texts if isinstance(text, str))
    if not isinstance(content, str) or not content.strip():
        return None
    # JSON can carry half a surrogate pair ("\ud83d"), which no UTF-8 file can store.
    return _LONE_SURROGATE.sub("\ufffd", content)
