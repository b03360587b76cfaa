from __future__ import annotations

import base64
import contextlib
import datetime as dt
import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from alembic import command
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bpm_common.db import Database, drop_database, ensure_database
from bpm_common.events.envelope import new_event
from bpm_common.events.memory import MemoryBroker
from bpm_common.ids import new_id
from bpm_common.migrations import alembic_config, upgrade_to_head
from bpm_common.testing.plugin import ApiClient, common_settings, service_client, service_database
from services.runtime.app import definition
from services.runtime.definitions.handlers import on_definition_published
from services.runtime.main import create_app
from services.runtime.org.handlers import on_user_upserted
from services.runtime.settings import RuntimeSettings

MODELS = Path(__file__).parent / "models"
EXPENSE = Path(__file__).resolve().parents[2] / "libs/bpm_process/bpm_process/engine/models/expense-reimbursement.bpmn"


class Runtime:
    """The runtime app plus helpers that stand in for the designer's events."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.db = client.app.state.db
        self._sequence = 0

    async def publish(
        self, bpmn: bytes, key: str, *, version: int = 1, status: str = "published", trial_roles: list[str] | None = None
    ) -> str:
        definition_id = new_id()
        self._sequence += 1
        event = new_event(
            "bpm.designer.definition.published",
            definition_id,
            {
                "id": definition_id,
                "key": key,
                "version": version,
                "name": key,
                "status": status,
                "trial_roles": trial_roles or [],
                "published_at": dt.datetime.now(dt.UTC).isoformat(),
                "published_by": "designer",
                "bpmn_gzip_b64": base64.b64encode(gzip.compress(bpmn)).decode(),
            },
            source="designer",
            sequence=self._sequence,
        )
        async with self.db.transaction() as session:
            await on_definition_published(session, event)
        return definition_id

    async def user(self, username: str, *roles: str, department: str | None = None, sequence: int = 1) -> None:
        event = new_event(
            "bpm.designer.org.user.upserted",
            username,
            {"username": username, "roles": list(roles), "department": department, "active": True},
            source="designer",
            sequence=sequence,
        )
        async with self.db.transaction() as session:
            await on_user_upserted(session, event)

    def auth(self, username: str, *roles: str) -> dict[str, str]:
        return self.client.as_user(username, *roles)


@pytest_asyncio.fixture(loop_scope="session")
async def runtime(pg_url, run_prefix, token_for) -> AsyncIterator[Runtime]:
    sdb = await service_database(definition(), pg_url, run_prefix)
    async with sdb.rolled_back() as db:
        app = create_app(RuntimeSettings(common=common_settings(pg_url)), db=db, broker=MemoryBroker())
        async with service_client(app, token_for) as client:
            yield Runtime(client)


@contextlib.asynccontextmanager
async def committed_runtime(pg_url: str, database: str, token_for) -> AsyncIterator[Runtime]:
    """A runtime on a database of its own (`database`) whose units of work really commit:
    for tests where two connections meet on a row lock."""
    sdb = await service_database(definition(), pg_url, database)
    db = Database(sdb.url, application_name=database)
    try:
        app = create_app(RuntimeSettings(common=common_settings(pg_url)), db=db, broker=MemoryBroker())
        async with service_client(app, token_for) as client:
            yield Runtime(client)
    finally:
        await db.dispose()


class MigratedDatabase:
    """A runtime database of its own, moved through its migrations by a test."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.migrations = definition().migrations

    async def to(self, revision: str, *, down: bool = False) -> None:
        """Upgrade (or downgrade) to `revision`."""

        def run(sync_conn: Connection) -> None:
            config = alembic_config(self.migrations, sync_conn)
            (command.downgrade if down else command.upgrade)(config, revision)
            sync_conn.commit()

        async with self.engine.connect() as conn:
            await conn.run_sync(run)

    async def to_head(self) -> None:
        await upgrade_to_head(self.engine, self.migrations, "runtime")


@contextlib.asynccontextmanager
async def migrated_database(pg_url: str, database: str) -> AsyncIterator[MigratedDatabase]:
    """An empty database `database` (dropped afterwards) for a test of the migrations themselves."""
    server = make_url(pg_url).set(drivername="postgresql+asyncpg")
    url = server.set(database=database)
    await drop_database(server, database)
    await ensure_database(url)
    engine = create_async_engine(url)
    try:
        yield MigratedDatabase(engine)
    finally:
        await engine.dispose()
        await drop_database(server, database)
