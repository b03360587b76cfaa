"""Pooled HTTP clients for the four backend services, opened in the app's lifespan.

Each pool is an httpx transport (httpx-aiohttp's by default, httpx's own httpcore one
when `BPM_GATEWAY_UPSTREAM_TRANSPORT=httpcore`) with an `httpx.AsyncClient` around it
for the gateway's own calls (login, readiness, OpenAPI).

Proxied calls take a shorter way, `Pool.send_request`, because they are the gateway's hot
path: not through the client, whose per-call machinery (auth and redirect flows, event
hooks, cookies, the response timer) does nothing for a reverse proxy. Over aiohttp they
go straight to the transport's `aiohttp.ClientSession` (building an `httpx.Request` and
parsing its URL again cost about a tenth of the gateway's CPU per call); over httpcore,
as an `httpx.Request` handed to the transport. aiohttp's errors are raised as the
`httpx.HTTPError` that httpx-aiohttp maps them to, so callers see one kind of error.

Either way the answer comes back as an `Answer`: status, headers as received, and the
body read whole (`read`) or chunk by chunk (`chunks`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import map_aiohttp_exceptions
from prometheus_client.metrics import Histogram

from gateway.routes import SERVICES
from gateway.settings import GatewaySettings
from gateway.telemetry import UPSTREAM_LATENCY

HeaderList = list[tuple[bytes, bytes]]


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


class Answer(Protocol):
    """A backend's answer once its status line and headers are in; the body still to read."""

    status: int
    headers: Sequence[tuple[bytes, bytes]]  # as the backend sent them

    async def read(self) -> bytes:
        """The whole body; raises `httpx.HTTPError` when the backend fails to send it."""
        ...

    def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives; raises `httpx.HTTPError` when the backend fails to send it."""
        ...

    def no_read_timeout(self) -> None:
        """Wait for the rest of the body without a read timeout (an event stream)."""
        ...

    async def aclose(self) -> None:
        """Give the connection back to the pool (or close it when the body was not read)."""
        ...


class _HttpxAnswer:
    __slots__ = ("status", "headers", "_response", "_request")

    def __init__(self, response: httpx.Response, request: httpx.Request) -> None:
        self.status: int = response.status_code
        self.headers: Sequence[tuple[bytes, bytes]] = response.headers.raw
        self._response, self._request = response, request

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])

    def chunks(self) -> AsyncIterator[bytes]:
        # the transport's byte stream as is: `aiter_raw()` would only re-chunk and count
        return aiter(self._response.stream)  # type: ignore[arg-type]

    def no_read_timeout(self) -> None:
        # httpcore looks the timeouts up in the request's extensions at every read
        self._request.extensions["timeout"] = {**self._request.extensions.get("timeout", {}), "read": None}

    async def aclose(self) -> None:
        await self._response.aclose()


class _AiohttpAnswer:
    __slots__ = ("status", "headers", "_response")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.status: int = response.status
        self.headers: Sequence[tuple[bytes, bytes]] = response.raw_headers
        self._response = response

    async def read(self) -> bytes:
        with map_aiohttp_exceptions():
            return await self._response.read()

    async def chunks(self) -> AsyncIterator[bytes]:
        with map_aiohttp_exceptions():
            async for chunk in self._response.content.iter_any():
                yield chunk

    def no_read_timeout(self) -> None:
        connection = self._response.connection
        if connection is not None and connection.protocol is not None:
            connection.protocol.read_timeout = None
            connection.protocol.start_timeout()  # drops the read timer already running

    async def aclose(self) -> None:
        # a body read to its end gives the connection back to the pool; otherwise it is closed
        self._response.release()


class UpstreamTransport(AiohttpTransport):
    """httpx-aiohttp's transport, over an aiohttp session that keeps no cookies either.

    aiohttp's default jar would store a backend's `Set-Cookie` (for host names, not IP
    addresses) and send it with every later call, whoever makes it; `DummyCookieJar`
    also spares the cookie filtering on each request.
    """

    def get_client(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            keepalive_timeout=self.limits.keepalive_expiry,
            ssl=self.ssl_context,
            limit=self.limits.max_connections or 0,
        )
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    def session(self) -> aiohttp.ClientSession:
        """The aiohttp session under this transport (created at its first call)."""
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        return self.client


class _Counted:
    """An answer whose call counts as in flight on its replica until it is closed."""

    __slots__ = ("status", "headers", "_answer", "_busy", "_index")

    def __init__(self, answer: Answer, busy: list[int], index: int) -> None:
        self.status, self.headers = answer.status, answer.headers
        self._answer, self._busy, self._index = answer, busy, index

    async def read(self) -> bytes:
        return await self._answer.read()

    def chunks(self) -> AsyncIterator[bytes]:
        return self._answer.chunks()

    def no_read_timeout(self) -> None:
        self._answer.no_read_timeout()

    async def aclose(self) -> None:
        if self._index >= 0:
            self._busy[self._index] -= 1
            self._index = -1
        await self._answer.aclose()


@dataclass(frozen=True, slots=True)
class Replica:
    """One base URL of a backend, split once into what each request needs."""

    base_url: str
    host: bytes  # its `Host` header, as httpx would set it

    @classmethod
    def parse(cls, base_url: str) -> Replica:
        return cls(base_url, httpx.URL(base_url).netloc)


@dataclass(slots=True)
class Pool:
    """A keep-alive pool: the client for the gateway's own calls, its transport for proxied ones."""

    client: httpx.AsyncClient
    transport: httpx.AsyncBaseTransport
    #: the client's timeouts, as the httpx request extension
    timeout: dict[str, float | None]
    #: the same timeouts for aiohttp, as httpx-aiohttp translates them
    aiohttp_timeout: aiohttp.ClientTimeout

    @classmethod
    def open(cls, transport: httpx.AsyncBaseTransport, timeout: httpx.Timeout) -> Pool:
        client = UpstreamClient(
            timeout=timeout,
            transport=transport,
            headers={"user-agent": "bpm-gateway", "accept-encoding": "identity"},
            trust_env=False,
        )
        aiohttp_timeout = aiohttp.ClientTimeout(
            sock_connect=timeout.connect, sock_read=timeout.read, connect=timeout.pool
        )
        return cls(client, transport, timeout.as_dict(), aiohttp_timeout)

    async def send_request(self, method: str, url: str, host: bytes, headers: HeaderList, body: bytes) -> Answer:
        """Pass a call on: straight to aiohttp over the aiohttp transport, else as an `httpx.Request`."""
        headers.append((b"host", host))
        if isinstance(self.transport, UpstreamTransport):
            with map_aiohttp_exceptions():
                response = await self.transport.session().request(
                    method,
                    url,
                    headers=_joined(headers),
                    data=body or None,
                    allow_redirects=False,
                    auto_decompress=False,
                    timeout=self.aiohttp_timeout,
                )
            return _AiohttpAnswer(response)
        # a ready byte stream skips httpx's content encoding and a second pass over the headers
        request = httpx.Request(
            method, url, headers=headers, stream=httpx.ByteStream(body), extensions={"timeout": self.timeout}
        )
        request.read()  # marks the body as known, so it is sent with its length
        response = await self.transport.handle_async_request(request)
        return _HttpxAnswer(response, request)


def _joined(headers: HeaderList) -> dict[str, str]:
    """`headers` (names lower-case, as ASGI gives them) with a repeated header's values joined
    by ", ", as an `httpx.Headers` hands them on."""
    joined: dict[str, str] = {}
    for raw_name, raw_value in headers:
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        joined[name] = f"{joined[name]}, {value}" if name in joined else value
    return joined


@dataclass(slots=True)
class Upstream:
    """One backend: a keep-alive pool for ordinary calls and one for long-lived event streams.

    Event streams get their own pool (no read timeout, their own connection limit) so that
    open inboxes never take the connections that ordinary calls need.
    """

    name: str
    replicas: tuple[Replica, ...]
    calls: Pool
    streams: Pool
    _turn: int = 0
    #: ordinary calls in flight per replica (event streams are not counted)
    _busy: list[int] = field(init=False)
    #: latency series per status code: `Histogram.labels()` validates and locks on every call
    _latency: dict[str, Histogram] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._busy = [0] * len(self.replicas)

    @property
    def base_urls(self) -> tuple[str, ...]:
        return tuple(replica.base_url for replica in self.replicas)

    @property
    def client(self) -> httpx.AsyncClient:
        """The client for the gateway's own calls to this backend (login, readiness)."""
        return self.calls.client

    @property
    def base_url(self) -> str:
        """The replica to use for the next call of the gateway's own (round robin)."""
        return self._next().base_url

    def _next(self) -> Replica:
        if len(self.replicas) == 1:
            return self.replicas[0]
        self._turn = (self._turn + 1) % len(self.replicas)
        return self.replicas[self._turn]

    async def send(self, method: str, target: str, headers: HeaderList, body: bytes, *, stream: bool) -> Answer:
        """Pass a call on to the next replica, through the event-stream pool when `stream`;
        raises `httpx.HTTPError` when the backend does not answer.

        `headers` are all the headers sent but `Host` and `Content-Length`, which are added
        as httpx adds them to a request with a body of bytes.
        """
        headers.append((b"content-length", str(len(body)).encode()))
        if stream or len(self.replicas) == 1:
            replica = self._next()
            pool = self.streams if stream else self.calls
            return await pool.send_request(method, replica.base_url + target, replica.host, headers, body)
        index = self._least_busy()
        replica = self.replicas[index]
        self._busy[index] += 1
        try:
            answer = await self.calls.send_request(method, replica.base_url + target, replica.host, headers, body)
        except BaseException:
            self._busy[index] -= 1
            raise
        return _Counted(answer, self._busy, index)

    def _least_busy(self) -> int:
        """The replica with the fewest calls in flight, taking turns among equals.

        Replicas share the machine or the cluster with everything else: one that is slow
        for a moment (descheduled, collecting garbage, waiting for a lock) keeps its calls
        longer, and round robin would go on handing it every other call.
        """
        count = len(self.replicas)
        self._turn = (self._turn + 1) % count
        best = self._turn
        for step in range(1, count):
            index = (self._turn + step) % count
            if self._busy[index] < self._busy[best]:
                best = index
        return best

    def observe(self, status: str, seconds: float) -> None:
        """Record how long the backend took to answer (`status` "error" when it did not)."""
        child = self._latency.get(status)
        if child is None:
            child = self._latency[status] = UPSTREAM_LATENCY.labels(self.name, status)
        child.observe(seconds)

    async def aclose(self) -> None:
        await self.calls.client.aclose()
        await self.streams.client.aclose()


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
    stream_limits = httpx.Limits(max_connections=settings.stream_max_connections, max_keepalive_connections=0)
    return {
        name: Upstream(
            name,
            tuple(Replica.parse(url) for url in urls[name]),
            Pool.open(_transport(settings, limits), timeout),
            Pool.open(_transport(settings, stream_limits), stream_timeout),
        )
        for name in SERVICES
    }


def _transport(settings: GatewaySettings, limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    if settings.upstream_transport == "aiohttp":
        return UpstreamTransport(limits=limits, trust_env=False)
    return httpx.AsyncHTTPTransport(limits=limits, trust_env=False)


async def close_upstreams(upstreams: dict[str, Upstream]) -> None:
    for upstream in upstreams.values():
        await upstream.aclose()
