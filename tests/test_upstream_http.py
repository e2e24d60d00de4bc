"""Unit tests of BackEnd.upstream_http: the pooled HTTP client under the model."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import httpx

from BackEnd.llm import ChatModel
from BackEnd.upstream_http import PoolSet, build_upstream_client
from tests.utils.api import make_settings
from tests.utils.fake_upstream import fake_chat_server


async def test_client_without_api_key_sends_no_authorization_header(tmp_path):
    async with build_upstream_client(make_settings(tmp_path, openrouter_api_key=None)) as client:
        assert "Authorization" not in client.headers
        assert client.headers["X-Title"] == "AssistantIA"


async def test_pool_set_spreads_concurrent_calls_and_keeps_one_warm_connection_when_quiet():
    with fake_chat_server(max_delay=0.2, keep_alive=True) as server:
        async with httpx.AsyncClient(
            base_url=server.base_url,
            transport=PoolSet(pools=3, connections_per_pool=2, keep_alive_per_pool=2),
            trust_env=False,
        ) as client:

            async def call() -> None:
                response = await client.post("/chat/completions", json={"messages": [{"content": "x"}]})
                assert response.status_code == 200

            for _ in range(3):
                await call()
            quiet = server.client_ports[:]
            server.client_ports.clear()
            await asyncio.gather(*(call() for _ in range(6)))
            first_burst = set(server.client_ports)
            server.client_ports.clear()
            await asyncio.gather(*(call() for _ in range(6)))
            second_burst = set(server.client_ports)

    assert len(set(quiet)) == 1  # one pool, one kept-alive connection
    assert len(first_burst) == 6  # 3 pools x 2 connections
    assert second_burst <= first_burst | set(quiet)  # all reused, none reopened


async def test_default_client_answers_through_its_pools(tmp_path):
    with fake_chat_server() as server:
        settings = make_settings(tmp_path, openrouter_base_url=server.base_url)
        async with build_upstream_client(settings) as client:
            model = ChatModel(settings, client)
            answers = [
                (await model.complete([{"role": "user", "content": f"n{i}"}])).content for i in range(4)
            ]

    assert answers == [f"echo: n{i}" for i in range(4)]


async def test_default_client_loads_the_ca_bundle_once_for_all_its_pools(tmp_path, monkeypatch):
    loads: list[object] = []
    original = ssl.SSLContext.load_verify_locations

    def counting(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append(args or kwargs)
        original(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    async with build_upstream_client(make_settings(tmp_path)):
        pass

    assert len(loads) == 1
