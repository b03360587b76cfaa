"""Pooled HTTP clients for the four backend services, opened in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from httpx_aiohttp import AiohttpTransport

from gateway.routes import SERVICES
from gateway.settings import GatewaySettings


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


_NO_COOKIES = _NoCookies()


class UpstreamClient(httpx.AsyncClient):
    """An httpx client that never keeps a cookie: one client serves every user."""

    @property  # type: ignore[override]
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, value: Any) -> None:
        return None


@dataclass(slots=True)
class Upstream:
    """One backend: a keep-alive pool for ordinary calls and one for long-lived event streams.

    Event streams get their own pool (no read timeout, their own connection limit) so that
    open inboxes never take the connections that ordinary calls need.
    """

    name: str
    base_urls: tuple[str, ...]
    client: httpx.AsyncClient
    streams: httpx.AsyncClient
    _turn: int = 0

    @property
    def base_url(self) -> str:
        """The replica to use for the next request (round robin over `base_urls`)."""
        self._turn = (self._turn + 1) % len(self.base_urls)
        return self.base_urls[self._turn]

    def request(
        self,
        method: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        *,
        stream: bool,
    ) -> tuple[httpx.AsyncClient, httpx.Request]:
        """The client to use and the request for it, built directly: `headers` are all the
        headers sent (see `forwarding.upstream_request_headers`), no client defaults merged."""
        client = self.streams if stream else self.client
        request = httpx.Request(
            method,
            self.base_url + target,
            headers=headers,
            content=body,
            extensions={"timeout": client.timeout.as_dict()},
        )
        return client, request

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.streams.aclose()


def open_upstreams(settings: GatewaySettings) -> dict[str, Upstream]:
    """Create the pools (in the app's lifespan; `close_upstreams` ends them)."""
    urls = settings.backend_urls()
    timeout = httpx.Timeout(
        connect=settings.upstream_connect_timeout,
        read=settings.upstream_read_timeout,
        write=settings.upstream_read_timeout,
        pool=settings.upstream_connect_timeout,
    )
    stream_timeout = httpx.Timeout(
        connect=settings.upstream_connect_timeout,
        read=None,
        write=settings.upstream_read_timeout,
        pool=settings.upstream_connect_timeout,
    )
    limits = httpx.Limits(
        max_connections=settings.upstream_max_connections,
        max_keepalive_connections=settings.upstream_max_keepalive,
        keepalive_expiry=settings.upstream_keepalive_seconds,
    )
    stream_limits = httpx.Limits(
        max_connections=settings.stream_max_connections, max_keepalive_connections=0
    )
    return {
        name: Upstream(
            name,
            urls[name],
            _client(settings, timeout, limits),
            _client(settings, stream_timeout, stream_limits),
        )
        for name in SERVICES
    }


def _client(
    settings: GatewaySettings, timeout: httpx.Timeout, limits: httpx.Limits
) -> httpx.AsyncClient:
    transport = None
    if settings.upstream_transport == "aiohttp":
        transport = AiohttpTransport(limits=limits, trust_env=False)
    return UpstreamClient(
        timeout=timeout,
        limits=limits,
        transport=transport,
        headers={"user-agent": "bpm-gateway", "accept-encoding": "identity"},
        trust_env=False,
    )


async def close_upstreams(upstreams: dict[str, Upstream]) -> None:
    for upstream in upstreams.values():
        await upstream.aclose()
