"""Unit tests of BackEnd.llm.ChatModel against an in-memory OpenAI-compatible server."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from BackEnd.errors import (
    UpstreamBadResponse,
    UpstreamNotConfigured,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from BackEnd.llm import ChatModel
from BackEnd.upstream_http import build_upstream_client
from tests.utils.api import TEST_API_KEY, completion, make_settings

CONTEXT = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]


async def ask(
    tmp_path: Path,
    handler: Callable[[httpx.Request], httpx.Response],
    messages: list[dict[str, str]] = CONTEXT,
    **overrides: Any,
) -> tuple[str, list[httpx.Request]]:
    """The answer of a ChatModel built from these settings, and the requests it sent."""
    seen: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    settings = make_settings(tmp_path / "BDD", **overrides)
    async with build_upstream_client(settings, httpx.MockTransport(recording)) as client:
        answer = (await ChatModel(settings, client).complete(messages)).content
    return answer, seen


def parts_answer(content: Any) -> Callable[[httpx.Request], httpx.Response]:
    body = {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ]
    }
    return lambda request: httpx.Response(200, json=body)


async def test_content_given_as_a_list_of_text_parts_is_joined(tmp_path):
    parts = [
        {"type": "text", "text": "Bon"},
        {"type": "image_url", "image_url": {"url": "x"}},
        {"type": "text", "text": "jour"},
    ]

    answer, _ = await ask(tmp_path, parts_answer(parts))

    assert answer == "Bonjour"


async def test_plain_string_content_is_returned_exactly(tmp_path):
    answer, _ = await ask(tmp_path, lambda request: completion("  line one\n    indented code\n"))

    assert answer == "  line one\n    indented code\n"


@pytest.mark.parametrize("content", [[], [{"type": "image_url", "image_url": {"url": "x"}}], "   \n", 42])
async def test_content_without_any_text_is_a_bad_response(tmp_path, content):
    with pytest.raises(UpstreamBadResponse):
        await ask(tmp_path, parts_answer(content))


async def test_request_sends_configured_model_and_messages_in_order(tmp_path):
    messages = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "u1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "u2"},
    ]

    _, [request] = await ask(
        tmp_path, lambda request: completion("ok"), messages, openrouter_model="llama3.1:8b"
    )

    assert json.loads(request.content) == {"model": "llama3.1:8b", "messages": messages}
    assert request.headers["Authorization"] == f"Bearer {TEST_API_KEY}"


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:11434/v1", "http://127.0.0.1:11434/v1/"])
async def test_base_url_override_is_honoured(tmp_path, base_url):
    _, [request] = await ask(tmp_path, lambda request: completion("ok"), openrouter_base_url=base_url)

    assert request.method == "POST"
    assert str(request.url) == "http://127.0.0.1:11434/v1/chat/completions"


async def test_rate_limit_keeps_the_retry_after_value(tmp_path):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "7"}, json={"error": {"message": "slow down"}})

    with pytest.raises(UpstreamRateLimited) as caught:
        await ask(tmp_path, handler)

    assert caught.value.retry_after == "7"


async def test_rate_limit_without_retry_after_has_none(tmp_path):
    with pytest.raises(UpstreamRateLimited) as caught:
        await ask(tmp_path, lambda request: httpx.Response(429, json={"error": {"message": "slow down"}}))

    assert caught.value.retry_after is None


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, UpstreamBadResponse),
        (401, UpstreamBadResponse),
        (404, UpstreamBadResponse),
        (408, UpstreamTimeout),
        (500, UpstreamBadResponse),
        (503, UpstreamBadResponse),
    ],
)
async def test_error_statuses_raise_the_matching_upstream_error(tmp_path, status, error):
    with pytest.raises(error) as caught:
        await ask(tmp_path, lambda request: httpx.Response(status, json={"error": {"message": TEST_API_KEY}}))

    assert TEST_API_KEY not in str(caught.value)


async def test_missing_api_key_raises_not_configured_without_calling_the_service(tmp_path):
    with pytest.raises(UpstreamNotConfigured) as caught:
        await ask(tmp_path, lambda request: completion("should not be asked"), openrouter_api_key=None)

    assert "OPENROUTER_API_KEY" in str(caught.value)


async def test_refused_connection_is_logged_with_the_system_error_name(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    with socket.create_server(("127.0.0.1", 0)) as probe:
        closed_port = probe.getsockname()[1]  # nobody listens there once the probe is closed
    settings = make_settings(tmp_path, openrouter_base_url=f"http://127.0.0.1:{closed_port}/v1")

    async with build_upstream_client(settings) as client:
        with pytest.raises(UpstreamBadResponse):
            await ChatModel(settings, client).complete(CONTEXT)

    assert "Upstream call failed: ConnectError (ECONNREFUSED)" in caplog.text
