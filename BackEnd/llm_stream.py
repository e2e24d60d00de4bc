"""Reading an OpenAI-compatible chat stream (`data: {chunk}` lines) into deltas and a Completion."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

from .completion import Completion, Usage
from .errors import UpstreamBadResponse, UpstreamError, UpstreamRateLimited, UpstreamTimeout

__all__ = ["StreamReader"]

logger = logging.getLogger(__name__)

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_LABEL = re.compile("[A-Za-z0-9_.:-]{1,40}")
_LABEL_MODEL = re.compile("[A-Za-z0-9_.:/@+-]{1,200}")


class StreamReader:
    """Fed the stream's lines one by one; keeps the answer so far and what the last chunks said."""

    def __init__(self, asked_model: str, label: Callable[[object], str]) -> None:
        self._asked_model = asked_model
        self._label = label  # makes an upstream value safe to log (ChatModel._label)
        self._parts: list[str] = []
        self._model: str | None = None
        self._finish_reason: str | None = None
        self._usage: Usage | None = None
        self.finished = False  # `[DONE]` was read

    @property
    def text(self) -> str:
        """The answer so far: every delta joined."""
        return "".join(self._parts)

    def feed(self, line: str) -> str:
        """The text this line adds (often ""); raises UpstreamError for an error chunk."""
        # Comment lines (": OPENROUTER PROCESSING"), event names, ids and blank separators.
        if not line.startswith("data:"):
            return ""
        payload = line[5:].strip()
        if payload == "[DONE]":
            self.finished = True
            return ""
        try:
            chunk = json.loads(payload)
        except (ValueError, RecursionError) as exc:
            logger.warning("Upstream stream sent a line that is not JSON")
            raise UpstreamBadResponse("The AI service sent an unreadable answer.") from exc
        if not isinstance(chunk, dict):
            return ""
        if chunk.get("error"):
            raise self._error_from(chunk["error"])
        named = chunk.get("model")
        if isinstance(named, str) and _LABEL_MODEL.fullmatch(named):
            self._model = named
        usage = Usage.from_upstream(chunk.get("usage"))
        if usage is not None:
            self._usage = usage
        choices = chunk.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
        reason = choice.get("finish_reason")
        if reason == "error":
            raise self._error_from(None)
        if isinstance(reason, str) and _LABEL.fullmatch(reason):
            self._finish_reason = reason
        delta = choice.get("delta")
        content = delta.get("content") if isinstance(delta, dict) else None
        if not isinstance(content, str) or not content:
            return ""
        # JSON can carry half a surrogate pair ("\ud83d"), which no UTF-8 file can store.
        content = _LONE_SURROGATE.sub("\ufffd", content).replace("\x00", "")
        self._parts.append(content)
        return content

    def completion(self) -> Completion:
        """The whole answer once the stream ended; UpstreamBadResponse if it was cut or empty."""
        if not self.finished and self._finish_reason is None:
            logger.warning("Upstream stream ended without [DONE] or a finish_reason")
            raise UpstreamBadResponse("The AI service stopped answering midway; try again in a moment.")
        if not self.text.strip():
            logger.warning("Upstream stream ended with no text in the answer")
            raise UpstreamBadResponse("The AI service sent an error or an empty answer.")
        return self.partial(self._finish_reason)

    def partial(self, finish_reason: str | None) -> Completion:
        """What was received so far, as a Completion (a stopped answer is stored like this)."""
        return Completion(self.text, self._model or self._asked_model, finish_reason, self._usage)

    def _error_from(self, error: Any) -> UpstreamError:
        # Mid-stream errors carry `code` as a number or a string (OpenRouter's "server_error").
        error = error if isinstance(error, dict) else {}
        code = error.get("code")
        logger.warning(
            "Upstream stream sent an error chunk (error type %s, code %s)",
            self._label(error.get("type")),
            self._label(code),
        )
        if code in (429, "429", "rate_limit_exceeded"):
            return UpstreamRateLimited("The AI service is receiving too many requests; try again shortly.")
        if code in (408, "408", "timeout"):
            return UpstreamTimeout("The AI service timed out while answering.")
        return UpstreamBadResponse("The AI service failed while answering; try again in a moment.")
