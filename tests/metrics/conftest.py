from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from bpm_common.events.memory import MemoryBroker
from bpm_common.testing.plugin import common_settings, service_client, service_database
from services.metrics.app import definition
from services.metrics.main import create_app
from services.metrics.settings import MetricsSettings
from tests.metrics.support import Metrics


@pytest_asyncio.fixture(loop_scope="session")
async def metrics(pg_url, run_prefix, token_for) -> AsyncIterator[Metrics]:
    sdb = await service_database(definition(), pg_url, run_prefix)
    async with sdb.rolled_back() as db:
        broker = MemoryBroker()
        settings = MetricsSettings(common=common_settings(pg_url), gauge_max_age_seconds=0)
        app = create_app(settings, db=db, broker=broker)
        async with service_client(app, token_for) as client:
            yield Metrics(client, broker)
