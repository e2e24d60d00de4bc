"""The HTTP client under the model: pooled connections, through the environment's proxy if any."""

from __future__ import annotations

import logging
import ssl

import httpx
from httpx._utils import get_environment_proxies  # private, but httpx is pinned: its exact reading

from .config import Settings

__all__ = ["PoolSet", "build_upstream_client"]

logger = logging.getLogger(__name__)


def build_upstream_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The one HTTP client the app keeps for its whole life.

    Without `transport` it goes through `PoolSet`s, through the proxies that HTTPS_PROXY,
    HTTP_PROXY and ALL_PROXY name except for the hosts in NO_PROXY; a given `transport`
    (a test's) is used as is, without proxies, as httpx itself does.
    """
    headers = {"HTTP-Referer": settings.openrouter_site_url, "X-Title": settings.openrouter_app_name}
    if settings.openrouter_api_key:
        headers["Authorization"] = f"Bearer {settings.openrouter_api_key}"
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    if transport is None:
        transport, mounts = _pools_and_proxies()
    return httpx.AsyncClient(
        base_url=settings.openrouter_base_url,
        headers=headers,
        timeout=settings.llm_timeout_seconds,
        transport=transport,
        mounts=mounts,
    )


def _pools_and_proxies() -> tuple[PoolSet, dict[str, httpx.AsyncBaseTransport | None]]:
    """The direct pools, and httpx mounts sending URLs to pools through the environment's proxies.

    A transport given to httpx switches off its own reading of the proxy variables, so the
    same reading (`get_environment_proxies`, the one httpx uses with trust_env) is done here.
    """
    # One TLS context for all: each loads the CA bundle (measured: 25 of them 0.8 s at start-up).
    tls = httpx.create_ssl_context()
    through: dict[str, PoolSet] = {}
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    for pattern, proxy_url in get_environment_proxies().items():
        if proxy_url is None:  # a NO_PROXY entry: these URLs go direct
            mounts[pattern] = None
            continue
        if proxy_url not in through:
            try:
                through[proxy_url] = _pool_set(tls, httpx.Proxy(proxy_url))
            except (ValueError, ImportError, httpx.InvalidURL) as exc:
                # e.g. a desktop's all_proxy=socks://…: starting without it beats not starting.
                scheme = proxy_url.partition("://")[0]  # never the URL: it may hold a password
                logger.warning(
                    "Ignoring the proxy for %s from the environment (%s, scheme %r): "
                    "use an http:// or https:// proxy.",
                    pattern,
                    type(exc).__name__,
                    scheme,
                )
                continue
        mounts[pattern] = through[proxy_url]
    return _pool_set(tls, None), mounts


def _pool_set(tls: ssl.SSLContext, proxy: httpx.Proxy | None) -> PoolSet:
    return PoolSet(pools=25, connections_per_pool=10, keep_alive_per_pool=4, tls=tls, proxy=proxy)


class PoolSet(httpx.AsyncBaseTransport):
    """Several small connection pools; each call goes to the least busy one.

    httpcore 1.0's pool looks at every connection for each idle one whenever a request
    starts or ends, so its cost per call grows with the square of the connections it
    keeps (measured: 100 kept-alive connections cost 23 ms of CPU per call). One pool
    must then keep few connections alive, and a class's burst of 100 chats reconnects
    (DNS, TCP, TLS) 90 times. 25 pools of 4 keep 100 alive while each scan stays small
    (measured: 10 pools of 10 cost a third more event-loop CPU per chat in a burst).
    Ties go to the first pool, so at low traffic one warm connection serves every call.
    The app's set opens up to 10 connections per pool, 250 calls at once; a call beyond that
    waits for a connection, and the wait counts against LLM_TIMEOUT_SECONDS.
    """

    def __init__(
        self,
        *,
        pools: int,
        connections_per_pool: int,
        keep_alive_per_pool: int,
        tls: ssl.SSLContext | None = None,
        proxy: httpx.Proxy | None = None,
    ) -> None:
        limits = httpx.Limits(
            max_connections=connections_per_pool, max_keepalive_connections=keep_alive_per_pool
        )
        tls = tls or httpx.create_ssl_context()
        self._pools = [httpx.AsyncHTTPTransport(verify=tls, limits=limits, proxy=proxy) for _ in range(pools)]
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
