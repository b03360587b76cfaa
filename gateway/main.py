"""ASGI entry point: `uvicorn gateway.main:create_app --factory`.

The gateway has no database and no NATS connection: it authenticates, applies role
rules and rate limits, and passes `/api/v1` calls to the owning service.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.types import ASGIApp

from bpm_common.errors import install_error_handlers
from bpm_common.heap import settle_heap
from bpm_common.http import RequestContextMiddleware
from bpm_common.logging import configure_logging, get_logger
from gateway import api, operations
from gateway.context import GatewayContext
from gateway.fastpath import GatewayApp
from gateway.openapi import MergedOpenAPI
from gateway.proxy import Proxy
from gateway.routes import DESIGNER_SERVICE
from gateway.settings import GatewaySettings
from gateway.upstream import close_upstreams, open_upstreams

log = get_logger(__name__)

TITLE = "BPM platform API"
VERSION = "0.1.0"
DESCRIPTION = (
    "Process definitions and the organisation (designer), process instances and tasks "
    "(runtime), notifications (notifier) and analytics (metrics), behind one gateway. "
    "Log in with `POST /api/v1/auth/token` and send the token as `Authorization: Bearer ...`."
)
#: headers a browser may send and read across origins
CORS_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "Accept",
    "Accept-Language",
    "Idempotency-Key",
    "X-Request-ID",
    "traceparent",
    "tracestate",
    "If-Match",
    "If-None-Match",
    "Last-Event-ID",
]
CORS_EXPOSED_HEADERS = ["X-Request-ID", "Retry-After", "Location", "ETag"]


def create_app(settings: GatewaySettings | None = None) -> GatewayApp:
    serving = settings is None  # started by uvicorn, not by a test
    settings = settings or GatewaySettings()
    common = settings.common
    configure_logging("gateway", level=common.log_level, json_output=common.log_json)
    ctx = GatewayContext.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx.upstreams = open_upstreams(settings)
        log.info("gateway_started", port=settings.port, backends=settings.backend_urls())
        revocations = None
        if ctx.issuer is not None and settings.revocation_poll_seconds > 0:
            revocations = asyncio.create_task(
                ctx.verifier.revocations.run(
                    ctx.upstream(DESIGNER_SERVICE), ctx.issuer, settings.revocation_poll_seconds
                )
            )
        if serving:
            settle_heap()
        try:
            yield
        finally:
            if revocations is not None:
                revocations.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await revocations
            upstreams, ctx.upstreams = ctx.upstreams, {}
            await close_upstreams(upstreams)

    app = GatewayApp(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url=None,  # served merged by `operations.docs_router`
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.gateway = ctx
    app.state.token_verifier = ctx.verifier.verifier
    install_error_handlers(app)
    app.include_router(api.router)
    # right after the gateway's own /api/v1/auth routes: those match first
    # (an ASGI app as the endpoint: Starlette calls it with the raw scope, no Request made;
    # calls to the proxied prefixes do not come this way, see `proxy_stack` below)
    proxy = Proxy(ctx)
    app.router.add_route("/api/v1/{path:path}", proxy, include_in_schema=False)  # type: ignore[arg-type]
    app.include_router(operations.router)
    app.include_router(operations.docs_router)

    def own_document() -> dict[str, Any]:
        return get_openapi(title=TITLE, version=VERSION, description=DESCRIPTION, routes=app.routes)

    app.state.openapi = MergedOpenAPI(
        own_document, lambda: ctx.upstreams, timeout=settings.openapi_timeout
    )

    app.add_middleware(RequestContextMiddleware, service="gateway", access_log=common.access_log)
    cors = _cors_options(settings.cors_origins) if settings.cors_origins else None
    if cors is not None:
        app.add_middleware(CORSMiddleware, **cors)
    app.proxy_stack = _proxy_stack(app, proxy, cors, access_log=common.access_log)
    return app


def _cors_options(origins: list[str]) -> dict[str, Any]:
    return {
        "allow_origins": origins,
        "allow_methods": ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        "allow_headers": CORS_REQUEST_HEADERS,
        "expose_headers": CORS_EXPOSED_HEADERS,
        "max_age": 600,
    }


def _proxy_stack(app: FastAPI, proxy: Proxy, cors: dict[str, Any] | None, *, access_log: bool) -> ASGIApp:
    """The hot path's middleware (see `gateway.fastpath`): what FastAPI wraps around its router,
    in the same order, around the proxy alone. Outermost the 500 problem for an unexpected error
    (Starlette's `ServerErrorMiddleware` with the app's handler), then CORS, then the request
    context. FastAPI's other layers do nothing here: its telemetry is checked by `GatewayApp`,
    no request body limit is set on the app (the proxy applies its own), and the proxy answers
    its errors itself."""
    stack: ASGIApp = RequestContextMiddleware(proxy, service="gateway", access_log=access_log)
    if cors is not None:
        stack = CORSMiddleware(stack, **cors)
    return ServerErrorMiddleware(stack, handler=app.exception_handlers.get(Exception), debug=app.debug)
