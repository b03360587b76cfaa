"""The reverse proxy: one plain ASGI handler for every `/api/v1` path the gateway does not answer.

For each call: authenticate (401), apply the caller's rate limit (429), find the owning
service (404), apply the role rule (403), then pass the request on through that
service's keep-alive pool and the answer back. Small answers are relayed in one piece;
event streams and large or open-ended bodies are streamed as they arrive.

This is the gateway's hot path, so its CPU per call is watched: calls get here without
FastAPI's middleware stack and router (`gateway.fastpath`), the role rules are looked up
per prefix and method (`gateway.routes.PREFIXES`), and the backend is called through the
pool's transport without httpx's client objects (`gateway.upstream`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from starlette.types import Message, Receive, Scope, Send

from bpm_common.auth import Principal
from bpm_common.errors import (
    DomainError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
)
from bpm_common.logging import get_logger
from gateway.auth import bearer_token
from gateway.context import GatewayContext
from gateway.forwarding import client_ip, response_head, upstream_request_headers
from gateway.problems import render, upstream_failure
from gateway.ratelimit import retry_after
from gateway.routes import API_PREFIX, BACKENDS, Prefix, prefix_of
from gateway.telemetry import FORBIDDEN, RATE_LIMITED, UNAUTHORIZED
from gateway.upstream import Answer

log = get_logger(__name__)

#: answers up to this size with a Content-Length are read whole and sent in one message
BUFFER_LIMIT = 1 << 20
#: how often an open event stream checks that its caller's token still holds
STREAM_CHECK_SECONDS = 1.0
EVENT_STREAM = b"text/event-stream"


@dataclass(frozen=True, slots=True)
class RouteLabel:
    """Stands in for `scope["route"]` so the latency histogram gets a bounded route label."""

    path: str


PROXY_LABEL = RouteLabel(f"{API_PREFIX}{{path}}")
_LABELS = {segment: RouteLabel(f"{API_PREFIX}{segment}/**") for segment in BACKENDS}
_STREAM_LABELS = {segment: RouteLabel(f"{API_PREFIX}{segment}/** (stream)") for segment in BACKENDS}


class Proxy:
    """The ASGI app behind the route `/api/v1/{path:path}`."""

    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        scope["route"] = PROXY_LABEL
        if _has_dot_segment(path):
            await render(NotFound(f"no API at {path}"))(scope, receive, send)
            return
        prefix = prefix_of(path)
        if prefix is not None and prefix.is_public(method, path):
            wait = self.ctx.requests.acquire("ip:" + client_ip(scope))
            if wait:
                RATE_LIMITED.labels("ip").inc()
                await render(
                    TooManyRequests("too many requests; slow down", headers={"Retry-After": retry_after(wait)})
                )(scope, receive, send)
                return
            await self._forward(scope, receive, send, prefix)
            return
        principal = await self._authenticate(scope, receive, send)
        if principal is None:
            return
        if prefix is None:
            await render(NotFound(f"no API at {path}"))(scope, receive, send)
            return
        wanted = prefix.required_roles(method, path)
        if wanted is not None and wanted.isdisjoint(principal.roles):
            FORBIDDEN.labels(prefix.label).inc()
            roles = ", ".join(sorted(wanted))
            await render(Forbidden(f"requires one of the roles: {roles}"))(scope, receive, send)
            return
        await self._forward(scope, receive, send, prefix, principal)

    async def _authenticate(self, scope: Scope, receive: Receive, send: Send) -> Principal | None:
        """The caller, or None after answering 401/429 for them."""
        ctx = self.ctx
        authorization: str | None = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        token = bearer_token(authorization)
        failure: DomainError | None = None
        principal: Principal | None = None
        if token is None:
            failure, reason = Unauthorized("missing bearer token"), "missing_token"
        else:
            try:
                principal = await ctx.verifier.verify(token)
            except Unauthorized as exc:
                failure, reason = exc, "invalid_token"
        if principal is not None:
            key, limit = "u:" + principal.username, "user"
        else:
            key, limit = "ip:" + client_ip(scope), "ip"
        wait = ctx.requests.acquire(key)
        if wait:
            RATE_LIMITED.labels(limit).inc()
            failure = TooManyRequests(
                "too many requests; slow down", headers={"Retry-After": retry_after(wait)}
            )
        elif failure is not None:
            UNAUTHORIZED.labels(reason).inc()
        if failure is not None:
            await render(failure)(scope, receive, send)
            return None
        return principal

    async def _forward(
        self, scope: Scope, receive: Receive, send: Send, prefix: Prefix, principal: Principal | None = None
    ) -> None:
        upstream = self.ctx.upstream(prefix.service)
        try:
            body = await _read_body(scope, receive, self.ctx.settings.max_body_bytes)
        except PayloadTooLarge as exc:
            await render(exc)(scope, receive, send)
            return
        if body is None:  # the client went away
            return
        headers, wants_stream = upstream_request_headers(scope)
        target: str = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if scope["query_string"]:
            target += "?" + scope["query_string"].decode("latin-1")
        scope["route"] = _LABELS[prefix.segment]
        started = time.perf_counter()
        try:
            answer = await upstream.send(scope["method"], target, headers, body, stream=wants_stream)
        except httpx.HTTPError as exc:
            upstream.observe("error", time.perf_counter() - started)
            log.warning("upstream_failed", backend=upstream.name, error=type(exc).__name__)
            await render(upstream_failure(upstream.name, exc))(scope, receive, send)
            return
        upstream.observe(str(answer.status), time.perf_counter() - started)
        try:
            # one pass over the backend's headers finds what decides how the body is relayed
            headers_out, content_type, length = response_head(answer.headers)
            if content_type.startswith(EVENT_STREAM):
                scope["route"] = _STREAM_LABELS[prefix.segment]
                answer.no_read_timeout()
                holds = None if principal is None else lambda: self._holds(principal)
                await _relay_stream(answer, headers_out, upstream.name, receive, send, holds)
            elif _small(answer.status, length, scope["method"]):
                await _relay_whole(answer, headers_out, upstream.name, scope, receive, send)
            else:
                await _relay_stream(answer, headers_out, upstream.name, receive, send)
        finally:
            await answer.aclose()


    def _holds(self, principal: Principal) -> bool:
        """Whether the caller's token still holds: not expired, account not changed since
        (`Revocations`). An event stream open for hours ends when it stops holding."""
        expires = principal.claims.get("exp")
        if isinstance(expires, int | float) and time.time() >= expires:
            return False
        try:
            self.ctx.verifier.revocations.check(principal)
        except Unauthorized:
            return False
        return True



def _small(status: int, length: bytes | None, method: str) -> bool:
    """Whether the answer is read whole: no body, or a known length within `BUFFER_LIMIT`."""
    if method == "HEAD" or status in (204, 304):
        return True
    return length is not None and length.isdigit() and int(length) <= BUFFER_LIMIT


async def _relay_whole(
    answer: Answer, headers: list[tuple[bytes, bytes]], service: str, scope: Scope, receive: Receive, send: Send
) -> None:
    try:
        body = await answer.read()
    except httpx.HTTPError as exc:
        log.warning("upstream_body_failed", backend=service, error=type(exc).__name__)
        await render(upstream_failure(service, exc))(scope, receive, send)
        return
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _relay_stream(
    answer: Answer,
    headers: list[tuple[bytes, bytes]],
    service: str,
    receive: Receive,
    send: Send,
    holds: Callable[[], bool] | None = None,
) -> None:
    """Pass the body on chunk by chunk until it ends, the client disconnects or (an event
    stream) the caller's token no longer `holds`: looked at before each chunk, and every
    few seconds for a stream that sends nothing for a while."""
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    pump = asyncio.ensure_future(_pump(answer, service, send, holds))
    tasks = [pump, asyncio.ensure_future(_until_disconnect(receive))]
    if holds is not None:
        tasks.append(asyncio.ensure_future(_until_it_stops(holds)))
    ran_out = False
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        ran_out = pump not in done and len(tasks) > 2 and tasks[2] in done
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if ran_out:  # the token no longer holds: the stream ends (the client may log in again)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _pump(answer: Answer, service: str, send: Send, holds: Callable[[], bool] | None = None) -> None:
    try:
        async for chunk in answer.chunks():
            if holds is not None and not holds():
                break  # the caller's token no longer holds: nothing more for them
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except httpx.HTTPError as exc:
        log.warning("upstream_stream_ended", backend=service, error=type(exc).__name__)
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _until_it_stops(holds: Callable[[], bool]) -> None:
    while True:
        await asyncio.sleep(STREAM_CHECK_SECONDS)
        if not holds():
            return


async def _until_disconnect(receive: Receive) -> None:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The whole request body (None if the client disconnected); `PayloadTooLarge` over `limit`."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            raise PayloadTooLarge(f"the request body exceeds {limit} bytes")
    message = await receive()
    if message["type"] == "http.disconnect":
        return None
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body
    chunks, size = [body], len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the request body exceeds {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _has_dot_segment(path: str) -> bool:
    """True for `.`/`..` segments: a backend could resolve them to a path never checked here."""
    return "/." in path and any(part in (".", "..") for part in path.split("/"))
