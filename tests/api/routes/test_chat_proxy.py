"""POST /ai/chat through the proxy named by HTTPS_PROXY / HTTP_PROXY / ALL_PROXY, unless NO_PROXY says not.

Everything runs on 127.0.0.1: the model is a fake OpenAI-compatible server, the proxy a tiny
forward proxy that records what it was asked to do.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from BackEnd.app import create_app
from tests.utils.api import Account, make_settings, sign_up
from tests.utils.fake_upstream import FakeChatServer, fake_chat_server
from tests.utils.forward_proxy import ForwardProxy, first_bytes_server, forward_proxy


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The process environment, emptied of the machine's proxy variables by tests/conftest.py."""
    return monkeypatch


@pytest.fixture
def model_server() -> Iterator[FakeChatServer]:
    with fake_chat_server() as server:
        yield server


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    with forward_proxy() as running:
        yield running


async def chat_through_a_new_app(data_dir: Path, base_url: str) -> tuple[httpx.Response, Account]:
    """Start the app on TinyDB (it reads the environment then), sign up and send one chat."""
    application = create_app(make_settings(data_dir, openrouter_base_url=base_url))
    async with application.router.lifespan_context(application):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://testserver"
        ) as client:
            account = await sign_up(client, "alice@example.com")
            reply = await client.post("/ai/chat", json={"message": "hello"}, headers=account.headers)
    return reply, account


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
async def test_plain_http_upstream_is_reached_through_the_proxy(
    environment, model_server, proxy, data_dir, variable
):
    environment.setenv(variable, proxy.url)

    reply, _ = await chat_through_a_new_app(data_dir, model_server.base_url)

    assert reply.status_code == 200, reply.text
    assert reply.json()["answer"] == "echo: hello"
    assert [(r.method, r.target) for r in proxy.requests] == [
        ("POST", f"{model_server.base_url}/chat/completions")
    ]
    assert model_server.calls == 1


async def test_https_upstream_is_tunnelled_through_the_proxy_with_connect(
    environment, proxy, data_dir, caplog
):
    caplog.set_level(logging.WARNING)
    environment.setenv("HTTPS_PROXY", proxy.url)
    environment.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # the wrong one for https: must not be used

    with first_bytes_server() as (address, received):
        reply, _ = await chat_through_a_new_app(data_dir, f"https://{address}/v1")

    # The far end is no TLS server, so the handshake fails; what matters is the way it went.
    assert reply.status_code == 502, reply.text
    assert [(r.method, r.target) for r in proxy.requests] == [("CONNECT", address)]
    assert received and received[0][:1] == b"\x16"  # a TLS handshake came through the tunnel


async def test_credentials_in_the_proxy_url_are_sent_to_the_proxy_and_never_logged(
    environment, model_server, proxy, data_dir, caplog
):
    caplog.set_level(logging.DEBUG)
    password = "pr0xy-pass-word"
    environment.setenv("HTTP_PROXY", proxy.url.replace("http://", f"http://student:{password}@"))

    reply, _ = await chat_through_a_new_app(data_dir, model_server.base_url)

    assert reply.status_code == 200, reply.text
    [request] = proxy.requests
    assert request.proxy_authorization is not None
    assert request.proxy_authorization.startswith("Basic ")
    assert password not in caplog.text


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost,127.0.0.1", "*"])
async def test_no_proxy_hosts_are_reached_directly(environment, model_server, proxy, data_dir, no_proxy):
    environment.setenv("HTTP_PROXY", proxy.url)
    environment.setenv("NO_PROXY", no_proxy)

    reply, _ = await chat_through_a_new_app(data_dir, model_server.base_url)

    assert reply.status_code == 200, reply.text
    assert proxy.requests == []
    assert model_server.calls == 1


async def test_without_proxy_variables_the_upstream_is_reached_directly(
    environment, model_server, proxy, data_dir
):
    reply, _ = await chat_through_a_new_app(data_dir, model_server.base_url)

    assert reply.status_code == 200, reply.text
    assert proxy.requests == []
    assert model_server.calls == 1


async def test_a_proxy_of_an_unusable_kind_is_ignored_with_a_warning_not_a_failed_start(
    environment, model_server, data_dir, caplog
):
    caplog.set_level(logging.WARNING)
    # What a desktop's proxy settings may export; httpx cannot speak socks:// (nor SOCKS without socksio).
    environment.setenv("ALL_PROXY", "socks://student:pr0xy-pass-word@127.0.0.1:9")

    reply, _ = await chat_through_a_new_app(data_dir, model_server.base_url)

    assert reply.status_code == 200, reply.text
    assert model_server.calls == 1
    assert "Ignoring the proxy for all://" in caplog.text
    assert "pr0xy-pass-word" not in caplog.text
