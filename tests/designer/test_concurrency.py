"""Replicas at the same time: concurrent uploads of one key and two seeding runs.

These need real commits from several connections, so they run on a scratch
database of their own instead of the rolled-back one.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable

import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bpm_common.db import Database, drop_database, ensure_database
from bpm_common.events.memory import MemoryBroker
from bpm_common.events.outbox import EventWriter
from bpm_common.migrations import upgrade_to_head
from bpm_common.testing.plugin import service_client
from services.designer.app import definition
from services.designer.database import Base
from services.designer.main import create_app
from services.designer.seeding.demo import seed_demo
from tests.designer.conftest import SIMPLE, designer_settings, xml_headers

TABLES = (
    "definition_forms, definitions, suggestions, attachments, dictionary_items, dictionaries, "
    "user_roles, users, positions, departments, roles, outbox, inbox"
)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def scratch_url(pg_url: str, run_prefix: str) -> AsyncIterator[URL]:
    server = make_url(pg_url).set(drivername="postgresql+asyncpg")
    url = server.set(database=f"{run_prefix}_designer_concurrency")
    await ensure_database(url)
    engine = create_async_engine(url)
    await upgrade_to_head(engine, definition().migrations, "designer")
    await engine.dispose()
    yield url
    if not os.environ.get("BPM_TEST_KEEP_DATABASES"):
        await drop_database(server, str(url.database))


@pytest_asyncio.fixture(loop_scope="session")
async def replicas(scratch_url: URL) -> AsyncIterator[list[Database]]:
    """Two databases as two replicas would hold them (own engines), on emptied tables."""
    dbs = [Database(scratch_url, application_name=f"designer-{i}", pool_size=5) for i in range(2)]
    async with dbs[0].engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {TABLES}"))
    yield dbs
    for db in dbs:
        await db.dispose()


async def count(db: Database, table: str) -> int:
    async with db.connection() as conn:
        return (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()  # noqa: S608


async def test_concurrent_uploads_of_one_key_get_consecutive_versions(
    replicas: list[Database], pg_url: str, token_for: Callable[..., str]
):
    apps = [create_app(designer_settings(pg_url), db=db, broker=MemoryBroker()) for db in replicas]
    async with (
        service_client(apps[0], token_for) as first,
        service_client(apps[1], token_for) as second,
    ):
        uploads = [
            client.post("/api/v1/definitions", content=SIMPLE, headers=xml_headers(client))
            for client in (first, second, first, second, first, second)
        ]
        responses = await asyncio.gather(*uploads)
    assert [r.status_code for r in responses] == [201] * 6
    assert sorted(r.json()["version"] for r in responses) == [1, 2, 3, 4, 5, 6]


async def test_two_replicas_seeding_at_once_seed_once(replicas: list[Database], pg_url: str):
    settings = designer_settings(pg_url, seed_demo=True)
    writer = EventWriter(Base.metadata, namespace="bpm")

    async def seed(db: Database):
        async with db.transaction() as session:
            return await seed_demo(session, writer, settings)

    results = await asyncio.gather(seed(replicas[0]), seed(replicas[1]))
    assert sorted(len(r.users) for r in results) == [0, 7]
    assert sorted(r.processes for r in results) == [[], ["expense-reimbursement"]]
    assert await count(replicas[0], "users") == 7
    assert await count(replicas[0], "definitions") == 1
    # 2 departments (created, then given their manager) + 7 users + 1 publication
    assert await count(replicas[0], "outbox") == 12
