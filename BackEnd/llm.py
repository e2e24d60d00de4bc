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

__all__ = ["ChatModel"]

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
