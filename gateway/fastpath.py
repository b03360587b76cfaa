"""The short way in for proxied calls: the gateway's hot path, kept cheap in CPU.

A path below a proxied prefix (`/api/v1/tasks/...`) can only ever reach the proxy
route, yet FastAPI's way there (its middleware stack, exception middleware, exit stack
and router) cost about as much CPU as the proxying itself. `GatewayApp` sends such
calls through `proxy_stack` instead: the same middleware (Starlette's
`ServerErrorMiddleware`, CORS when configured, the request context), in the order FastAPI
applies them, around the same `Proxy`; see `main._proxy_stack`. Every other path (login,
metrics, docs, unknown prefixes) takes the ordinary way.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.routes import prefix_of


class GatewayApp(FastAPI):
    """FastAPI, with proxied calls sent through `proxy_stack` (see the module's docstring)."""

    #: set by `create_app`; None sends every call the ordinary way
    proxy_stack: ASGIApp | None = None
    #: whether FastAPI's own OpenTelemetry instrumentation is off, found at the first call
    _untraced: bool | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and self.proxy_stack is not None
            and _proxied(scope["path"])
            and self._short_way_open()
        ):
            scope["app"] = self
            await self.proxy_stack(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def _short_way_open(self) -> bool:
        """False when an OpenTelemetry SDK is configured: FastAPI then traces every call
        itself, and only the ordinary way does that."""
        if self._untraced is None:
            telemetry: Any = getattr(self, "_native_telemetry", None)
            self._untraced = telemetry is None or not telemetry.enabled()
        return self._untraced


def _proxied(path: str) -> bool:
    """Whether the router would give the path to the proxy route: one below a proxied prefix,
    without a decoded line break (`%0A`), which the route's `{path:path}` does not match."""
    return prefix_of(path) is not None and "\n" not in path
