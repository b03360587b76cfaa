"""Races: requests at the same instance at once, through the gateway of the whole platform
running as processes (the e2e stack): one wins, the others get a clear 4xx, nothing is
done twice."""

from __future__ import annotations

import pytest

from tests.e2e.races.helpers import Client


@pytest.fixture
async def gw(stack):
    client = Client(stack.url("gateway"))
    yield client
    await client.close()
