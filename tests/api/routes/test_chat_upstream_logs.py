"""POST /ai/chat upstream failures in the log: status, type and a short code, never the text.

An upstream error body may echo the student's prompt (moderation, context length, a provider's
raw error). No log record of any logger, at any level, may carry that text, other message text
of the body, or the API key; the administrator still learns the status, type and code.
"""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.utils.api import TEST_API_KEY

PROMPT = "Dear diary, Zebulon stole the quetzal feather"
OTHER = "internal-trace 7f3a provider said so"
ECHO = f"Your prompt '{PROMPT}' was refused. {OTHER}"


def answer(status: int, body: object = None, text: str | None = None):
    def handler(request: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text)
        return httpx.Response(status, json=body)

    return handler


def raising(kind: type[httpx.TransportError]):
    def handler(request: httpx.Request) -> httpx.Response:
        raise kind(f"{ECHO} {TEST_API_KEY}", request=request)

    return handler


def error_body(**fields: object) -> dict[str, object]:
    return {"error": {"message": ECHO, "metadata": {"raw": PROMPT, "flagged_input": PROMPT}, **fields}}


CASES = [
    pytest.param(
        answer(400, error_body(type="invalid_request_error", code="context_length_exceeded")),
        ["400", "invalid_request_error", "context_length_exceeded"],
        id="400-openai-style",
    ),
    pytest.param(answer(403, error_body(code=403)), ["403", "code 403"], id="403-moderation"),
    pytest.param(answer(429, error_body(code=429)), ["429", "code 429"], id="429"),
    pytest.param(
        answer(502, error_body(code=502, type="upstream_error")), ["502", "upstream_error"], id="502"
    ),
    pytest.param(answer(500, text=f"<html>{ECHO}</html>"), ["500"], id="500-html"),
    pytest.param(answer(200, error_body(code="server_error")), ["200", "server_error"], id="200-error-body"),
    pytest.param(answer(200, text=f"{{{ECHO}"), ["200", "JSON"], id="200-invalid-json"),
    pytest.param(
        answer(
            200,
            {"choices": [{"message": {"role": "assistant", "content": ECHO}, "finish_reason": "error"}]},
        ),
        ["200", "finish_reason error"],
        id="200-finish-reason-error",
    ),
    pytest.param(
        answer(400, error_body(code=TEST_API_KEY, type=f"{PROMPT}")), ["400"], id="key-and-prompt-as-code"
    ),
    pytest.param(raising(httpx.ConnectError), ["ConnectError"], id="connect-error"),
    pytest.param(raising(httpx.ReadTimeout), ["ReadTimeout"], id="read-timeout"),
]


def every_log_line(caplog: pytest.LogCaptureFixture) -> str:
    """Every record as a handler would write it, traceback included."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


@pytest.mark.parametrize("backend", ["tinydb"])  # about the log, not storage
@pytest.mark.parametrize(("handler", "logged"), CASES)
async def test_upstream_failure_logs_status_type_and_code_but_never_text(
    client, upstream, alice, caplog, handler, logged
):
    caplog.set_level(logging.DEBUG)
    upstream.handler = handler

    response = await client.post("/ai/chat", json={"message": PROMPT}, headers=alice.headers)

    assert response.status_code in (429, 502, 504), response.text
    text = every_log_line(caplog)
    for secret in (PROMPT, "Zebulon", "quetzal", OTHER, "internal-trace", TEST_API_KEY, TEST_API_KEY[:16]):
        assert secret not in text, f"{secret!r} logged:\n{text}"
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name == "BackEnd.llm")
    for label in logged:
        assert label in ours, f"{label!r} not logged:\n{ours}"
