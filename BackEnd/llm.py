"""The upstream chat model: one OpenAI-compatible `/chat/completions` call per turn."""

from __future__ import annotations

import errno
import logging
import re
from collections.abc import AsyncGenerator
from email.utils import parsedate_to_datetime
from typing import Any

import anyio
import httpx

from .completion import ChatOptions, Completion, Usage
from .config import Settings
from .errors import UpstreamBadResponse, UpstreamNotConfigured, UpstreamRateLimited, UpstreamTimeout
from .llm_stream import StreamReader

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
_LABEL = re.compile("[A-Za-z0-9_.:-]{1,40}")
_LABEL_MODEL = re.compile("[A-Za-z0-9_.:/@+-]{1,200}")
_UNAVAILABLE = "The AI service is unavailable right now; try again in a moment."


class ChatModel:
    """Sends a conversation to the provider and returns the answer text, or raises UpstreamError."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient) -> None:
        self._client = client
        self._model = settings.openrouter_model
        self._timeout = settings.llm_timeout_seconds
        self._api_key = settings.openrouter_api_key

    @property
    def timeout_seconds(self) -> float:
        """LLM_TIMEOUT_SECONDS: the limit on a whole call."""
        return self._timeout

    @property
    def model(self) -> str:
        """The model asked when the caller names none."""
        return self._model

    def check_configured(self) -> None:
        """Raise UpstreamNotConfigured when no API key is set: before a stream begins, not in it."""
        if not self._api_key:
            raise UpstreamNotConfigured(
                "The AI service is not configured on this server: "
                "the administrator must set OPENROUTER_API_KEY."
            )

    async def complete(
        self, messages: list[dict[str, Any]], options: ChatOptions | None = None
    ) -> Completion:
        """The model's answer to `messages` (system prompt first, newest message last).

        `options` picks the model and the sampling parameters; those left None are not sent.
        """
        self.check_configured()
        options = options or ChatOptions()
        asked = options.model or self._model
        try:
            # httpx's timeout is per read; the product promises a limit on the whole call.
            with anyio.fail_after(self._timeout):
                response = await self._client.post(
                    "/chat/completions", json={"model": asked, "messages": messages, **options.sampling()}
                )
        except (TimeoutError, httpx.TimeoutException) as exc:
            logger.warning("Upstream did not answer within %g s: %s", self._timeout, type(exc).__name__)
            raise UpstreamTimeout(f"The AI service did not answer within {self._timeout:g} seconds.") from exc
        except httpx.HTTPError as exc:
            # Exception texts are not logged: they may quote a URL, a proxy's password or a body.
            logger.warning("Upstream call failed: %s%s", type(exc).__name__, _os_error_code(exc))
            raise UpstreamBadResponse("The AI service could not be reached; try again in a moment.") from exc
        return self._answer_from(response, asked)

    async def stream(
        self, messages: list[dict[str, Any]], options: ChatOptions | None = None
    ) -> AsyncGenerator[str | Completion, None]:
        """The answer to `messages` as it is written: text deltas, then the whole `Completion`.

        Raises UpstreamError as `complete` does, also once deltas have come (an error chunk, a
        dropped connection). A cancel scope cannot span a generator's `yield`, so the caller
        bounds the whole call by `timeout_seconds` (one scope around its loop: a scope per read
        measured a third of the CPU of relaying a chunk). Closing the generator early closes the
        upstream connection, which cancels the generation at providers that support it.
        """
        self.check_configured()
        options = options or ChatOptions()
        asked = options.model or self._model
        body = {
            "model": asked,
            "messages": messages,
            **options.sampling(),
            "stream": True,
            "stream_options": {"include_usage": True},  # usage in the last chunk, also off OpenRouter
        }
        reader = StreamReader(asked, self._label)
        try:
            with anyio.fail_after(self._timeout):
                request = self._client.build_request("POST", "/chat/completions", json=body)
                response = await self._client.send(request, stream=True)
            try:
                # An error status, or a server that ignores `stream` and answers in one JSON body.
                if response.status_code >= 400 or "json" in response.headers.get("content-type", ""):
                    await response.aread()
                    whole = self._answer_from(response, asked)  # raises the error /ai/chat would
                    yield whole.content
                    yield whole
                    return
                async for line in response.aiter_lines():
                    delta = reader.feed(line)
                    if delta:
                        yield delta
                    if reader.finished:
                        break
            finally:
                with anyio.CancelScope(shield=True):  # a stop cancels us: the connection must still close
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException) as exc:
            logger.warning("Upstream stream did not end within %g s: %s", self._timeout, type(exc).__name__)
            raise UpstreamTimeout(f"The AI service did not answer within {self._timeout:g} seconds.") from exc
        except httpx.HTTPError as exc:
            logger.warning("Upstream stream failed: %s%s", type(exc).__name__, _os_error_code(exc))
            raise UpstreamBadResponse("The AI service could not be reached; try again in a moment.") from exc
        yield reader.completion()

    def _answer_from(self, response: httpx.Response, asked: str) -> Completion:
        if response.status_code >= 400:
            self._log_rejection(response, "an error status", _json_or_none(response))
            if response.status_code == 429:
                raise UpstreamRateLimited(
                    "The AI service is receiving too many requests; try again shortly.",
                    retry_after=_valid_retry_after(response.headers.get("Retry-After")),
                )
            if response.status_code == 408:
                raise UpstreamTimeout("The AI service timed out while answering.")
            raise UpstreamBadResponse(_STATUS_MESSAGES.get(response.status_code, _UNAVAILABLE))
        body = _json_or_none(response)
        if body is None:
            self._log_rejection(response, "a body that is not JSON", None)
            raise UpstreamBadResponse("The AI service sent an unreadable answer.")
        answer, problem = _read_answer(body)
        if answer is None:
            self._log_rejection(response, problem, body)
            raise UpstreamBadResponse("The AI service sent an error or an empty answer.")
        return Completion(
            answer,
            _answering_model(body, asked),
            _finish_reason(body),
            Usage.from_upstream(body.get("usage")),
        )

    def _log_rejection(self, response: httpx.Response, problem: str, body: Any) -> None:
        # Status, error type and code only: an error message may quote the student's prompt.
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        logger.warning(
            "Upstream answered HTTP %s with %s (error type %s, code %s)",
            response.status_code,
            problem,
            self._label(error.get("type")),
            self._label(error.get("code")),
        )

    def _label(self, value: object) -> str:
        """`value` if it is a short identifier or number, which cannot carry a sentence; else a dash."""
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**6:
            return str(value)
        if not isinstance(value, str) or not _LABEL.fullmatch(value):
            return "-"
        # Logs are read by people who must not learn the key, even if an upstream echoes it.
        if self._api_key and (self._api_key in value or (len(value) >= 8 and value in self._api_key)):
            return "-"
        return value


def _answering_model(body: dict[str, Any], asked: str) -> str:
    """The upstream's `model` field when it names one, else the model asked."""
    named = body.get("model")
    return named if isinstance(named, str) and _LABEL_MODEL.fullmatch(named) else asked


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, RecursionError):  # RecursionError: JSON nested too deeply
        return None


def _os_error_code(exc: BaseException) -> str:
    """The name of the system error under `exc`, as " (ECONNREFUSED)", or "": never its message."""
    cause: BaseException | None = exc
    for _ in range(8):  # httpx wraps httpcore, which wraps the OSError; a hand-made chain may loop
        if cause is None:
            break
        name = errno.errorcode.get(cause.errno) if isinstance(cause, OSError) and cause.errno else None
        if name:
            return f" ({name})"
        cause = cause.__cause__ or cause.__context__
    return ""


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


def _finish_reason(body: dict[str, Any]) -> str | None:
    """The first choice's finish_reason when it is a short label (it is stored and returned)."""
    choice = body["choices"][0]
    reason = choice.get("finish_reason")
    return reason if isinstance(reason, str) and _LABEL.fullmatch(reason) else None


def _read_answer(body: Any) -> tuple[str | None, str]:
    """The text of the first choice, or None and what was wrong (a fixed phrase, safe to log)."""
    if not isinstance(body, dict):
        return None, "a body that is not an object"
    if body.get("error"):
        return None, "an error body"
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None, "no choices"
    choice = choices[0]
    if choice.get("finish_reason") == "error":
        return None, "finish_reason error"
    message = choice.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # content parts, as some OpenAI-compatible servers send
        texts = (part.get("text") for part in content if isinstance(part, dict))
        content = "".join(text for text in texts if isinstance(text, str))
    if not isinstance(content, str) or not content.strip():
        return None, "no text in the answer"
    # JSON can carry half a surrogate pair ("\ud83d"), which no UTF-8 file can store.
    return _LONE_SURROGATE.sub("\ufffd", content), "an answer"
