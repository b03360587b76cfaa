"""The HTTP connector: performs the requests of `bpm:http` tasks and reports the answers.

An item is taken with a lease in one short transaction (`SKIP LOCKED`, so replicas
never take the same item), the request is sent with no transaction open, and the
answer is reported in a new unit of work: `complete_work` with
`{"status", "headers", "body"}` (a JSON body parsed), or `fail_work` with the error
and the retries left, retried with exponential backoff from the task's
`retryBackoff`. A replica that dies mid-call lets its lease run out; the item is
then taken again. A report whose lease was lost (taken over, or the work was
cancelled meanwhile) is dropped.

Only `http` and `https` URLs are called, also after redirects, and never a host that
resolves to one of the denied networks (`BPM_RUNTIME_HTTP_DENIED_NETWORKS`: by default
the cloud metadata services, link-local, unspecified and multicast addresses), so a
model cannot read a cloud machine's credentials: each connection goes to an address
that was checked (`CheckedBackend`), so a name cannot change its answer in between.
Connections are direct (`HTTP_PROXY` and the like are not used: through a proxy the
connector could not see where a name leads). Responses are read up to
`MAX_RESPONSE_BYTES`, also while they are decompressed. Request headers may carry
credentials: they are never logged, a value that would inject a header (a line
break from a variable) is refused naming the header only, and errors name the URL
without its user, query and path segments that look like secrets (a webhook's token).
A request that cannot be sent as the model made it (an invalid
URL, method or header) opens an incident at once; an answer PostgreSQL could not
store (a NUL character, JSON nested too deep, `NaN`) is kept as storable text, so no
answer makes the call repeat unseen. An answer that arrives while the instance is
suspended is kept and reported on resume: the call is not made twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import re
import socket
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import httpcore
import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common import jsonutil
from bpm_common.app import ServiceContext
from bpm_common.errors import DomainError, NotFound
from bpm_common.ids import new_id
from bpm_common.logging import get_logger
from bpm_process.engine import complete_work, fail_work
from bpm_process.isotime import parse_duration
from services.runtime.instances.service import InstanceCommands, utcnow
from services.runtime.jobs.worker import HELD, SUSPENDED_RECHECK
from services.runtime.settings import RuntimeSettings
from services.runtime.work import repository
from services.runtime.work.models import CANCELLED, LOCKED, OPEN, work_items
from services.runtime.work.wakeup import HTTP_WORK, wakeup

log = get_logger(__name__)

DEFAULT_TIMEOUT = 30.0
MIN_TIMEOUT, MAX_TIMEOUT = 0.1, 300.0
LEASE_MARGIN = dt.timedelta(seconds=30)
DEFAULT_BACKOFF = dt.timedelta(seconds=5)
MAX_BACKOFF = dt.timedelta(hours=1)
MAX_RESPONSE_BYTES = 512 * 1024
MAX_REDIRECTS = 5
ERROR_EXCERPT = 300
CONCURRENCY = 16
IDLE_SECONDS = 1.0
SCHEMES = ("http", "https")
#: answer headers that carry the called system's credentials for the connector (which keeps no
#: cookies): they are not stored with the answer, where everyone who sees the instance reads them
CREDENTIAL_HEADERS = frozenset({"set-cookie", "set-cookie2", "proxy-authenticate", "www-authenticate"})
#: the key of the request that keeps an answer received while the instance was suspended
ANSWERED = "answered"


class SchemeRefused(Exception):
    """A request (or a redirect) to something other than http(s)."""


class DestinationRefused(Exception):
    """A request (or a redirect) to a host in a denied network."""


class ResponseTooLarge(Exception):
    """The backend's answer exceeded the connector's response size limit."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt gave: the response to store, or an error (`final`: retrying cannot help)."""

    response: dict[str, Any] | None = None
    error: str | None = None
    final: bool = False


def seconds_of(duration: str | None, default: float) -> float:
    """An ISO 8601 duration in seconds (`default` when absent or unreadable)."""
    if not duration:
        return default
    try:
        parsed = parse_duration(duration)
    except ValueError:
        return default
    now = utcnow()
    return max((parsed.add_to(now) - now).total_seconds(), 0.0)


def call_timeout(item: Mapping[str, Any]) -> float:
    return min(max(seconds_of(item.get("timeout"), DEFAULT_TIMEOUT), MIN_TIMEOUT), MAX_TIMEOUT)


def lease_for(item: Mapping[str, Any]) -> dt.timedelta:
    """How long a replica may hold an item: the call's timeout plus a margin for the report."""
    return dt.timedelta(seconds=call_timeout(item)) + LEASE_MARGIN


def backoff(item: Mapping[str, Any]) -> dt.timedelta:
    """Exponential backoff: the task's `retryBackoff` doubled for every attempt made so far."""
    base = dt.timedelta(seconds=seconds_of(item.get("retry_backoff"), DEFAULT_BACKOFF.total_seconds()))
    attempts = max(int(item.get("attempts") or 1), 1)
    return min(base * (2 ** min(attempts - 1, 20)), MAX_BACKOFF)


#: a path segment that looks like a secret: long, and letters mixed with digits (the token
#: of a Slack or Teams webhook, an API key put in the path)
SECRET_SEGMENT = re.compile(r"(?=[^/]*[0-9])(?=[^/]*[A-Za-z])[A-Za-z0-9_\-]{20,}")


def safe_url(url: str) -> str:
    """The URL without credentials, query and fragment, and with path segments that look
    like secrets masked, for messages and logs (`/orders/42` stays readable)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:  # out of range: the URL is refused, but its message still names it
        port = None
    if port:
        host = f"{host}:{port}"
    path = "/".join("***" if SECRET_SEGMENT.fullmatch(segment) else segment for segment in parts.path.split("/"))
    return urlunsplit((parts.scheme, host, path, "", ""))


def check_url(url: Any) -> str | None:
    """None when `url` may be called, else why not."""
    if not isinstance(url, str) or not url:
        return "the request has no URL"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "the URL is not valid"
    if parts.scheme.lower() not in SCHEMES:
        return "only http and https URLs may be called"
    if not parts.hostname:
        return "the URL names no host"
    try:
        parts.port  # noqa: B018 - raises for a port out of range
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        return "the URL is not valid"
    return None


#: an HTTP method or header name (RFC 9110 `token`)
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: what a header value may not hold: line breaks and other control characters (a tab is fine)
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class RequestRefused(Exception):
    """The model's request cannot be sent as it is (retrying cannot mend it)."""


def check_method(method: str) -> str:
    """The method, when it is an HTTP token: a method from an expression must not carry
    spaces or line breaks into the request line."""
    if not TOKEN.fullmatch(method):
        raise RequestRefused("the method is not an HTTP method")
    return method


def request_headers(headers: Mapping[str, Any]) -> dict[str, str]:
    """The model's headers, checked: a value from a template that holds a line break would
    inject headers, and it must not reach the error message either (header values often
    are credentials), so the refusal names the header only. Values are trimmed (HTTP field
    values have no surrounding whitespace); values outside ASCII are sent as UTF-8."""
    checked: dict[str, str] = {}
    for name, value in headers.items():
        name, text = str(name), str(value).strip(" \t")
        if not TOKEN.fullmatch(name):
            raise RequestRefused(f"the header name {name[:100]!r} is not valid")
        if CONTROL.search(text):
            raise RequestRefused(f"the value of the header {name!r} holds a line break or a control character")
        checked[name] = text
    return checked


def _encoded(headers: dict[str, str]) -> dict[str, str | bytes]:
    return {name: value if value.isascii() else value.encode() for name, value in headers.items()}


async def _only_http(request: httpx.Request) -> None:
    if request.url.scheme not in SCHEMES:
        raise SchemeRefused(f"a redirect to a {request.url.scheme!r} URL was refused")


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def denied_networks(networks: list[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(network, strict=False) for network in networks)


def _denied(address: Address, denied: tuple[Network, ...]) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == network.version and address in network for network in denied)


Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (the system's resolver)."""
    found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0].split("%", 1)[0] for info in found]


class CheckedBackend(httpcore.AsyncNetworkBackend):
    """Opens the connector's connections only to addresses it checked.

    The host name is resolved here, every address it resolves to is checked against the
    denied networks, and the connection goes to a checked address. Checking in a request
    hook and letting the connection resolve the name again left a window: a DNS server
    that answers a public address to the check and a metadata address to the connection
    (DNS rebinding) got through. TLS still verifies and names the host (SNI), not the
    address. Redirects open their connections here too.
    """

    def __init__(self, denied: tuple[Network, ...], inner: httpcore.AsyncNetworkBackend,
                 resolver: Resolver = system_resolver) -> None:
        self.denied, self.inner, self.resolver = denied, inner, resolver

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None, socket_options: Any = None) -> Any:
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                addresses = [ipaddress.ip_address(a) for a in await self.resolver(host, port)]
            except OSError as exc:
                raise httpcore.ConnectError(f"{host} could not be resolved: {exc}") from exc
        for address in addresses:
            if _denied(address, self.denied):
                raise DestinationRefused(f"{host} ({address}) is in a network the connector may not call")
        failure: Exception = httpcore.ConnectError(f"{host} resolves to no address")
        for address in addresses:
            try:
                return await self.inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                failure = exc
        raise failure

    async def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
        raise httpcore.ConnectError("the connector calls no unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class CheckedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool opening connections through
    `CheckedBackend` (httpx has no parameter for a pool's network backend)."""

    def __init__(self, denied: tuple[Network, ...], resolver: Resolver = system_resolver, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        pool = self._pool
        if isinstance(pool, httpcore.AsyncConnectionPool):  # a proxy connects to itself, not to the host
            pool._network_backend = CheckedBackend(denied, pool._network_backend, resolver)


def _content(body: Any, headers: dict[str, str]) -> bytes | None:
    """The request body as bytes; JSON unless the model set another content type."""
    if body is None:
        return None
    named = {name.lower() for name in headers}
    if isinstance(body, str):
        if "content-type" not in named:
            try:
                jsonutil.loads(body)
                headers["Content-Type"] = "application/json"
            except ValueError:
                headers["Content-Type"] = "text/plain; charset=utf-8"
        return body.encode()
    if "content-type" not in named:
        headers["Content-Type"] = "application/json"
    return jsonutil.dumps_bytes(body)


def _storable(value: Any) -> Any:
    """`value` with every NUL character replaced: PostgreSQL cannot store one in text or
    JSON, and an answer it cannot store would be called again and again. `NaN` and
    `Infinity` (the only floats `jsonutil.loads` gives) are not JSON: ValueError."""
    if isinstance(value, float):
        raise ValueError("NaN and Infinity are not JSON")
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(v) for v in value]
    return value


def _body(raw: bytes, content_type: str) -> Any:
    """The answer's body: parsed when it is JSON (strictly: `NaN` is not), else text
    (invalid UTF-8 replaced)."""
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type.lower():
        try:
            return _storable(jsonutil.loads(text))
        except (ValueError, RecursionError):  # RecursionError: nested deeper than Python parses
            return _storable(text)
    return _storable(text)


def _excerpt(raw: bytes) -> str:
    """The start of an error answer on one line: what the server says is wrong is what an
    administrator needs to mend the incident (`ERROR_EXCERPT` characters at most)."""
    text = " ".join(raw[: ERROR_EXCERPT * 4].decode("utf-8", errors="replace").replace("\x00", " ").split())
    return text if len(text) <= ERROR_EXCERPT else text[:ERROR_EXCERPT] + "…"


#: request headers that carry no credentials: their values stay readable in error texts
PLAIN_HEADERS = frozenset({"accept", "accept-language", "content-type", "content-language", "user-agent"})


def _without_secrets(text: str, headers: Mapping[str, str]) -> str:
    """`text` with the request's header values masked (and each long word of them, a
    bearer token on its own): a server that echoes the request in its error answer must
    not put the caller's credentials into the history."""
    for name, value in headers.items():
        if name.lower() in PLAIN_HEADERS:
            continue
        for secret in (value, *value.split()):  # the whole value first
            if len(secret) >= 8:
                text = text.replace(secret, "***")
    return text


class _Inflater:
    """Undoes one `Content-Encoding` (gzip or deflate) producing at most `room` bytes per
    piece: httpx's own decoding inflates a whole network chunk at once, and 200 KB of
    gzip can hold gigabytes, so the limit must hold while decompressing, not after."""

    def __init__(self, coding: str) -> None:
        self.deflate = coding == "deflate"
        self.first = True
        self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if not self.deflate else zlib.MAX_WBITS)

    def feed(self, data: bytes, room: int) -> bytes:
        first, self.first = self.first, False
        try:
            out = self.inflater.decompress(data, room + 1)
        except zlib.error as exc:
            if first and self.deflate:  # deflate without its zlib header, as some servers send it
                self.inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                return self.feed(data, room)
            raise httpx.DecodingError(f"the answer is not valid {'deflate' if self.deflate else 'gzip'}") from exc
        if len(out) > room:
            raise ResponseTooLarge
        return out


def _inflaters(encoding: str) -> list[_Inflater]:
    """The decoders of a `Content-Encoding`, in the order to apply them (other codings
    are left as they are, as httpx does)."""
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
    found = [_Inflater("deflate" if c == "deflate" else "gzip") for c in codings if c in ("gzip", "x-gzip", "deflate")]
    return found[::-1]


async def _read(response: httpx.Response) -> bytes:
    """The answer's body, decoded, refused (`ResponseTooLarge`) beyond `MAX_RESPONSE_BYTES`
    (before or after decompression)."""
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        raise ResponseTooLarge
    inflaters = _inflaters(response.headers.get("content-encoding", ""))
    chunks: list[bytes] = []
    received = size = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received > MAX_RESPONSE_BYTES:
            raise ResponseTooLarge
        for inflater in inflaters:
            chunk = inflater.feed(chunk, MAX_RESPONSE_BYTES - size)
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise ResponseTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def new_client(denied: tuple[Network, ...] = (), resolver: Resolver = system_resolver) -> httpx.AsyncClient:
    """The connector's pooled client: redirects followed (http and https only, never into a
    `denied` network: see `CheckedBackend`), no cookies kept."""
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
    return httpx.AsyncClient(
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        timeout=httpx.Timeout(DEFAULT_TIMEOUT),
        limits=limits,
        transport=CheckedTransport(denied, resolver, limits=limits),
        event_hooks={"request": [_only_http]},
    )


class HttpConnector:
    """Takes due HTTP work items, calls, reports. `run()` is the background worker;
    `run_due()` does the due items one after the other (tests, tools)."""

    def __init__(self, ctx: ServiceContext, *, client: httpx.AsyncClient | None = None) -> None:
        self.ctx = ctx
        self._client = client
        self._own_client = client is None
        self.replica = f"{socket.gethostname()}:{os.getpid()}"

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            settings = self.ctx.settings
            if not isinstance(settings, RuntimeSettings):  # a context built by a tool
                settings = RuntimeSettings()
            self._client = new_client(denied_networks(settings.http_denied_networks))
        return self._client

    async def aclose(self) -> None:
        if self._client is not None and self._own_client:
            await self._client.aclose()
            self._client = None

    # -- one item ------------------------------------------------------------------------

    async def take(self, now: dt.datetime | None = None) -> dict[str, Any] | None:
        """Lease the next due item (its own short unit of work)."""
        owner = f"http-connector:{self.replica}:{new_id()}"
        async with self.ctx.db.transaction() as session:
            return await repository.take_http(session, now or utcnow(), owner, lease_for)

    async def perform(self, item: Mapping[str, Any]) -> Outcome:
        """Send the item's request (no database work here)."""
        request = item.get("request") or {}
        answered = request.get(ANSWERED)
        if answered is not None:  # made before its instance was suspended: never twice
            return Outcome(response=answered)
        url = request.get("url")
        refused = check_url(url)
        if refused:
            return Outcome(error=refused, final=True)
        method = str(request.get("method") or "GET").upper()
        shown = safe_url(url)
        try:
            method = check_method(method)
            shown = f"{method} {shown}"
            headers = request_headers(request.get("headers") or {})
        except RequestRefused as exc:
            return Outcome(error=f"{shown}: {exc}", final=True)
        content = _content(request.get("body"), headers)
        timeout = call_timeout(item)
        started = asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout(timeout):
                async with self.client.stream(
                    method, url, headers=_encoded(headers), content=content, timeout=httpx.Timeout(timeout)
                ) as response:
                    raw = await _read(response)
        except TimeoutError:
            return Outcome(error=f"{shown} timed out after {timeout:g} s")
        except httpx.TimeoutException:
            return Outcome(error=f"{shown} timed out after {timeout:g} s")
        except (SchemeRefused, DestinationRefused) as exc:
            return Outcome(error=f"{shown}: {exc}", final=True)
        except ResponseTooLarge:
            return Outcome(error=f"{shown} answered more than {MAX_RESPONSE_BYTES} bytes", final=True)
        except httpx.TooManyRedirects:
            return Outcome(error=f"{shown} redirected more than {MAX_REDIRECTS} times")
        except httpx.HTTPError as exc:
            detail = str(exc).replace(url, safe_url(url)) if str(exc) else type(exc).__name__
            return Outcome(error=f"{shown} failed: {detail}")
        except Exception as exc:  # noqa: BLE001 - counted like any failed attempt, never retried unseen
            log.warning("http_work_call_failed", work_id=str(item["id"]), url=safe_url(url), error=type(exc).__name__)
            return Outcome(error=f"{shown} failed: {type(exc).__name__}")
        elapsed = round((asyncio.get_running_loop().time() - started) * 1000, 1)
        log.info("http_work_called", work_id=str(item["id"]), method=method, url=safe_url(url),
                 status=response.status_code, ms=elapsed)
        if response.status_code >= 400:
            said = _without_secrets(_excerpt(raw), headers)
            status_line = f"{shown} answered HTTP {response.status_code} {response.reason_phrase}".rstrip()
            return Outcome(error=f"{status_line}: {said}" if said else status_line)
        answer_headers: dict[str, str] = {}
        for name, value in response.headers.multi_items():
            key = name.lower()
            if key in CREDENTIAL_HEADERS:
                continue
            answer_headers[key] = f"{answer_headers[key]}, {value}" if key in answer_headers else value
        body = _body(raw, response.headers.get("content-type", ""))
        return Outcome(response={"status": response.status_code, "headers": answer_headers, "body": body})

    async def report(self, item: Mapping[str, Any], outcome: Outcome) -> str:
        """Report the outcome in a new unit of work; returns what happened (for logs and tests)."""
        async with self.ctx.db.transaction() as session:
            commands = InstanceCommands(session, self.ctx)
            try:
                instance = await commands.lock(item["instance_id"])
            except NotFound:
                return "dropped"
            current = await repository.get_item(session, item["id"], lock=True)
            if current is None or current["state"] != LOCKED or current["lock_owner"] != item["lock_owner"]:
                log.info("http_work_lease_lost", work_id=str(item["id"]))
                return "dropped"
            if instance.state != "active" or instance.suspended:
                await self._release(session, current, outcome.response)
                return "released"
            error, final = outcome.error, outcome.final
            if outcome.response is not None:
                try:
                    async with session.begin_nested():
                        await commands.execute(
                            item["instance_id"],
                            lambda graph, state, now, nid: complete_work(
                                graph, state, str(item["id"]), variables=outcome.response, now=now, new_id=nid
                            ),
                            actor=None,
                        )
                    return "completed"
                except DomainError as exc:
                    if exc.status in (404, 409):  # the instance no longer waits for this work
                        await self._close(session, item["id"], exc.detail)
                        return "dropped"
                    error, final = f"the response could not be stored: {exc.detail}", True
            retries_left = 0 if final else max(int(current["retries_left"]) - 1, 0)
            await commands.execute(
                item["instance_id"],
                lambda graph, state, now, nid: fail_work(
                    graph, state, str(item["id"]), error_message=error, retries_left=retries_left, now=now, new_id=nid
                ),
                actor=None,
            )
            if retries_left > 0:
                await session.execute(
                    update(work_items)
                    .where(work_items.c.id == item["id"])
                    .values(available_at=utcnow() + backoff(current))
                )
                return "retrying"
            return "incident"

    async def _close(self, session: Any, work_id: UUID, why: str) -> None:
        log.warning("http_work_not_active", work_id=str(work_id), reason=why)
        await session.execute(
            update(work_items)
            .where(work_items.c.id == work_id)
            .values(state=CANCELLED, lock_owner=None, locked_until=None, ended_at=utcnow(), last_error=why[:4000])
        )

    async def _release(self, session: Any, current: Mapping[str, Any], response: dict[str, Any] | None) -> None:
        """Hand the item back while its instance is suspended. An answer is kept with the
        request and reported on resume: the call may have changed something (a charge, an
        order) and must not be made again. A failed attempt is not counted."""
        request = {**(current["request"] or {}), HELD: True}  # the resume makes it available (`release_held_work`)
        if response is not None:
            request[ANSWERED] = jsonutil.jsonable(response)
        values: dict[str, Any] = {
            "state": OPEN, "lock_owner": None, "locked_until": None, "available_at": utcnow() + SUSPENDED_RECHECK,
            "request": request,
        }
        await session.execute(update(work_items).where(work_items.c.id == current["id"]).values(**values))

    async def process(self, item: Mapping[str, Any]) -> str:
        outcome = await self.perform(item)
        return await self.report(item, outcome)

    async def run_one(self, now: dt.datetime | None = None) -> str | None:
        """Take, call and report one due item; None when nothing was due."""
        item = await self.take(now)
        if item is None:
            return None
        return await self.process(item)

    async def run_due(self, now: dt.datetime | None = None, *, limit: int = 100) -> list[str]:
        """Work off the due items one by one; what happened to each."""
        done: list[str] = []
        while len(done) < limit:
            outcome = await self.run_one(now)
            if outcome is None:
                break
            done.append(outcome)
        return done

    # -- the background worker ------------------------------------------------------------

    async def run(self) -> None:
        """Keep up to `CONCURRENCY` calls in flight; sleep until woken or for `IDLE_SECONDS`."""
        slots = asyncio.Semaphore(CONCURRENCY)
        running: set[asyncio.Task[Any]] = set()
        notice = wakeup(self.ctx, HTTP_WORK)
        try:
            while True:
                await slots.acquire()
                try:
                    item = await self.take()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - the worker must survive database hiccups
                    log.warning("http_work_take_failed", error=repr(exc))
                    item = None
                if item is None:
                    slots.release()
                    await notice.wait(IDLE_SECONDS)
                    continue
                task = asyncio.create_task(self._guarded(item))
                running.add(task)
                task.add_done_callback(running.discard)
                task.add_done_callback(lambda _: slots.release())
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            await self.aclose()

    async def _guarded(self, item: Mapping[str, Any]) -> None:
        try:
            await self.process(item)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the lease runs out and the item is taken again
            log.warning("http_work_report_failed", work_id=str(item["id"]), error=repr(exc))


async def run(ctx: ServiceContext) -> None:
    """Background worker of the runtime: the HTTP connector."""
    await HttpConnector(ctx).run()


async def release_held_work(session: AsyncSession, instance_id: Any) -> int:
    """The instance was resumed: the HTTP calls its suspension handed back are available
    now (an answer kept with one is reported then)."""
    released = await session.execute(
        update(work_items)
        .where(work_items.c.instance_id == instance_id, work_items.c.state == OPEN, work_items.c.request.has_key(HELD))
        .values(available_at=utcnow(), request=work_items.c.request.op("-")(HELD))
    )
    return released.rowcount or 0
