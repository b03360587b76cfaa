"""HTTP plumbing shared by every service: exact JSON, request ids, access logs, latency metrics."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from prometheus_client import Histogram
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bpm_common import jsonutil
from bpm_common.ids import new_id
from bpm_common.logging import correlation_id, get_logger

log = get_logger("bpm.access")

HTTP_LATENCY = Histogram(
    "bpm_http_request_duration_seconds",
    "HTTP request latency by route",
    ["service", "method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class ExactJSONResponse(Response):
    """JSON whose decimals keep every digit (see `bpm_common.jsonutil`)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return jsonutil.dumps_bytes(content)


class ExactJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            self._json = jsonutil.loads(body)
        return self._json


class ExactJSONRoute(APIRoute):
    """Parses request bodies with non-integer numbers as `Decimal`."""

    def get_route_handler(self) -> Callable[..., Any]:
        handler = super().get_route_handler()

        async def _handler(request: Request) -> Response:
            return await handler(ExactJSONRequest(request.scope, request.receive))

        return _handler


def api_router(**kwargs: Any) -> APIRouter:
    """An APIRouter whose routes parse decimals exactly; every service router is made with it."""
    return APIRouter(route_class=ExactJSONRoute, **kwargs)


#: paths that orchestrators and scrapers call all the time: neither measured nor logged
_PROBES = ("/metrics", "/healthz", "/readyz")
#: paths another service polls every few seconds: measured, not logged
_POLLS = ("/internal/v1/auth/revocations",)


class RequestContextMiddleware:
    """Pure ASGI middleware: request id, correlation id, access log and latency histogram."""

    def __init__(self, app: ASGIApp, *, service: str, access_log: bool = True) -> None:
        self.app, self.service, self.access_log = app, service, access_log
        # the histogram's child per (method, route, status): `labels()` costs more than `observe()`
        self._latency: dict[tuple[str, str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")[:128]
                break
        if not request_id:
            request_id = new_id()
            scope["headers"] = [*scope["headers"], (b"x-request-id", request_id.encode())]
        token = correlation_id.set(request_id)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        start = time.perf_counter()

        async def _send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            if template not in _PROBES:
                key = (scope["method"], template, status)
                histogram = self._latency.get(key)
                if histogram is None:
                    histogram = self._latency[key] = HTTP_LATENCY.labels(self.service, key[0], template, str(status))
                histogram.observe(elapsed)
                if self.access_log and template not in _POLLS:
                    log.info(
                        "http_request",
                        method=scope["method"],
                        path=scope["path"],
                        status=status,
                        ms=round(elapsed * 1000, 2),
                    )
            structlog.contextvars.unbind_contextvars("request_id")
            correlation_id.reset(token)
