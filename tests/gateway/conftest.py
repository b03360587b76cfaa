"""Real HTTP all the way: stand-in backends and gateways served by uvicorn on free ports."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr

from bpm_common.auth import TokenIssuer
from bpm_common.settings import CommonSettings
from bpm_common.testing.plugin import TEST_JWT_SECRET
from bpm_stack.embedded import free_port
from gateway.main import create_app
from gateway.routes import SERVICES
from gateway.settings import GatewaySettings
from tests.gateway.standin import StandIn, serve

ALLOWED_ORIGIN = "https://app.example"


def common_for_tests() -> CommonSettings:
    return CommonSettings(
        jwt_secret=SecretStr(TEST_JWT_SECRET),
        log_level="WARNING",
        log_json=True,
        access_log=False,
        oidc_jwks_url=None,
        oidc_public_key=None,
    )


@pytest.fixture(scope="session")
def local_issuer() -> TokenIssuer:
    return TokenIssuer(common_for_tests())


@pytest.fixture(scope="session")
def bearer(local_issuer: TokenIssuer) -> Callable[..., dict[str, str]]:
    """`bearer("alice", "employee")` -> an Authorization header for that user."""

    def _bearer(
        username: str, *roles: str, department: str | None = None, ttl: dt.timedelta | None = None
    ) -> dict[str, str]:
        token, _ = local_issuer.issue(username, list(roles), department=department, ttl=ttl)
        return {"Authorization": f"Bearer {token}"}

    return _bearer


@pytest_asyncio.fixture(scope="session")
async def standins() -> AsyncIterator[dict[str, StandIn]]:
    """The four stand-in services, by name."""
    stack = AsyncExitStack()
    async with stack:
        services: dict[str, StandIn] = {}
        for name in SERVICES:
            standin = StandIn(name, common_for_tests())
            standin.url = await stack.enter_async_context(serve(standin.app()))
            services[name] = standin
        yield services


def gateway_settings(urls: dict[str, str], **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {f"{name}_url": url for name, url in urls.items()}
    values.update(
        common=common_for_tests(),
        cors_origins=[ALLOWED_ORIGIN],
        login_failures_per_minute=3,
    )
    values.update(overrides)
    return GatewaySettings(**values)


@pytest.fixture(scope="session")
def standin_urls(standins: dict[str, StandIn]) -> dict[str, str]:
    return {name: s.url for name, s in standins.items()}


@pytest.fixture(scope="session")
def dead_url() -> str:
    """A local address nothing listens on."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="session")
def start_gateway(
    standin_urls: dict[str, str],
) -> Callable[..., AbstractAsyncContextManager[str]]:
    """`async with start_gateway(metrics_url=..., rate_limit_burst=3) as url:` its own gateway."""

    def _start(**overrides: Any) -> AbstractAsyncContextManager[str]:
        urls = dict(standin_urls)
        for name in SERVICES:
            if f"{name}_url" in overrides:
                urls[name] = overrides.pop(f"{name}_url")
        return serve(create_app(gateway_settings(urls, **overrides)))

    return _start


@pytest_asyncio.fixture(scope="session")
async def gateway(
    start_gateway: Callable[..., AbstractAsyncContextManager[str]],
) -> AsyncIterator[str]:
    """The URL of a gateway in front of the four stand-ins, with the default limits."""
    async with start_gateway() as url:
        yield url


@pytest_asyncio.fixture(scope="session")
async def client(gateway: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway, timeout=10.0) as http:
        yield http
