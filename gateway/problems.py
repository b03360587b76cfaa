"""Problems the gateway itself answers: a backend unreachable or too slow (problem+json)."""

from __future__ import annotations

import asyncio

import aiohttp
import httpx
from starlette.responses import Response

from bpm_common.errors import DomainError, problem_response


class BadGateway(DomainError):
    status, title = 502, "Bad gateway"


class GatewayTimeout(DomainError):
    status, title = 504, "Gateway timeout"


def timed_out(exc: httpx.HTTPError) -> bool:
    """A real timeout. httpx-aiohttp reports a refused connection as ConnectTimeout, so the
    aiohttp cause decides: only its timeout errors are timeouts."""
    cause = exc.__cause__
    if isinstance(cause, aiohttp.ClientError):
        return isinstance(cause, (aiohttp.ServerTimeoutError, asyncio.TimeoutError))
    return isinstance(exc, httpx.TimeoutException)


def upstream_failure(service: str, exc: httpx.HTTPError) -> DomainError:
    """The problem to answer when a backend could not be reached or did not answer."""
    if timed_out(exc):
        return GatewayTimeout(f"the {service} service did not answer in time", service=service)
    return BadGateway(
        f"the {service} service is unreachable ({type(exc).__name__})", service=service
    )


def render(exc: DomainError) -> Response:
    """The problem+json response of a domain error, for code outside FastAPI's handlers."""
    return problem_response(
        exc.status,
        exc.title,
        exc.detail,
        errors=exc.errors,
        type_=exc.type,
        headers=exc.headers,
        **exc.extra,
    )
