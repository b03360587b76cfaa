"""The Prometheus expositions of the five apps, made as the services make them."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest_asyncio
from pydantic import SecretStr

from bpm_common.events.memory import MemoryBroker
from bpm_common.settings import CommonSettings
from bpm_common.testing.plugin import (
    TEST_JWT_SECRET,
    common_settings,
    service_client,
    service_database,
)


def _services(pg_url: str) -> list[tuple[Any, Callable[..., Any], Any]]:
    from services.designer.app import definition as designer
    from services.designer.main import create_app as designer_app
    from services.designer.settings import DesignerSettings
    from services.metrics.app import definition as metrics
    from services.metrics.main import create_app as metrics_app
    from services.metrics.settings import MetricsSettings
    from services.notifier.app import definition as notifier
    from services.notifier.main import create_app as notifier_app
    from services.notifier.settings import NotifierSettings
    from services.runtime.app import definition as runtime
    from services.runtime.main import create_app as runtime_app
    from services.runtime.settings import RuntimeSettings

    common = common_settings(pg_url)
    return [
        (designer(), designer_app, DesignerSettings(common=common)),
        (runtime(), runtime_app, RuntimeSettings(common=common)),
        (notifier(NotifierSettings(common=common)), notifier_app, NotifierSettings(common=common)),
        (metrics(), metrics_app, MetricsSettings(common=common)),
    ]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def expositions(
    pg_url: str, run_prefix: str, token_for: Callable[..., str]
) -> dict[str, str]:
    """Each app's `/metrics` (gateway included), read through its real app factory."""
    from gateway.main import create_app as gateway_app
    from gateway.settings import GatewaySettings

    texts: dict[str, str] = {}
    async with AsyncExitStack() as stack:
        for definition, create_app, settings in _services(pg_url):
            sdb = await service_database(definition, pg_url, run_prefix)
            db = await stack.enter_async_context(sdb.rolled_back())
            app = create_app(settings, db=db, broker=MemoryBroker())
            client = await stack.enter_async_context(service_client(app, token_for))
            response = await client.get("/metrics")
            assert response.status_code == 200, definition.name
            texts[definition.name] = response.text
        common = CommonSettings(jwt_secret=SecretStr(TEST_JWT_SECRET), log_level="WARNING")
        gateway = gateway_app(GatewaySettings(common=common))
        async with gateway.router.lifespan_context(gateway):
            transport = httpx.ASGITransport(app=gateway)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                response = await client.get("/metrics")
                assert response.status_code == 200
                texts["gateway"] = response.text
    return texts
