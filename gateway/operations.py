"""Operational endpoints: liveness, readiness of every backend, Prometheus metrics, API docs."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import JSONResponse, Response

from gateway.context import GatewayContext
from gateway.openapi import MergedOpenAPI
from gateway.problems import timed_out
from gateway.upstream import Upstream

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok", "service": "gateway"}


@router.get("/readyz", summary="Every backend service ready")
async def readyz(request: Request) -> Response:
    ctx: GatewayContext = request.app.state.gateway
    upstreams = list(ctx.upstreams.values())
    results = await asyncio.gather(*(_ready(u, ctx.settings.readyz_timeout) for u in upstreams))
    checks = {u.name: result for u, result in zip(upstreams, results, strict=True)}
    not_ready = [name for name, result in checks.items() if result != "ok"]
    return JSONResponse(
        {
            "status": "not_ready" if not_ready else "ready",
            "service": "gateway",
            "checks": checks,
            "not_ready": not_ready,
        },
        status_code=503 if not_ready else 200,
    )


async def _ready(upstream: Upstream, wait: float) -> str:
    """"ok" when every replica of the backend is ready, else what the first failing one said."""
    results = await asyncio.gather(*(_ready_one(upstream, url, wait) for url in upstream.base_urls))
    return next((r for r in results if r != "ok"), "ok")


async def _ready_one(upstream: Upstream, base_url: str, wait: float) -> str:
    try:
        response = await upstream.client.get(base_url + "/readyz", timeout=wait)
    except httpx.HTTPError as exc:
        if timed_out(exc):
            return "no answer in time"
        return f"unreachable: {type(exc).__name__}"
    return "ok" if response.status_code == 200 else f"not ready: {response.status_code}"


@router.get("/metrics", summary="Prometheus metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


docs_router = APIRouter(include_in_schema=False)


@docs_router.get("/openapi.json")
async def openapi_document(request: Request) -> Response:
    merged: MergedOpenAPI = request.app.state.openapi
    return Response(await merged.document(), media_type="application/json")


@docs_router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="BPM platform API")
