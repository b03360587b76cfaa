"""Pytest plugin shared by every test package (`pytest_plugins = ["bpm_common.testing.plugin"]`).

Servers: `BPM_DATABASE_URL` / `BPM_NATS_URL` when set, otherwise embedded
PostgreSQL and NATS started once per test session in a temporary folder.
Databases: one set per test session (and xdist worker), named after a random
run prefix and built by each service's migrations; API tests run every unit of
work inside an outer transaction that is rolled back after the test.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bpm_common import jsonutil
from bpm_common.app import ServiceDefinition
from bpm_common.auth import TokenIssuer
from bpm_common.db import Database, drop_database, ensure_database
from bpm_common.events.memory import MemoryBroker
from bpm_common.migrations import upgrade_to_head
from bpm_common.settings import CommonSettings

TEST_JWT_SECRET = "test-" + secrets.token_urlsafe(24)


@pytest.fixture(scope="session")
def run_prefix() -> str:
    """A short unique prefix for this test session's databases and event namespace."""
    return f"t{secrets.token_hex(3)}"


@pytest.fixture(scope="session")
def worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "master")


@pytest.fixture(scope="session")
def infra_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bpm-test-") as d:
        os.chmod(d, 0o755)
        yield Path(d)


@pytest.fixture(scope="session")
def pg_url(infra_dir: Path) -> Iterator[str]:
    """URL of a PostgreSQL server (libpq form, any database name)."""
    if os.environ.get("BPM_DATABASE_URL"):
        yield os.environ["BPM_DATABASE_URL"]
        return
    from bpm_stack.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(infra_dir / "pg")
    yield server.start(stop_at_exit=True)
    server.stop()  # before the temporary directory goes, or the server outlives the session


@pytest.fixture(scope="session")
def nats_url(infra_dir: Path, run_prefix: str) -> Iterator[str]:
    if os.environ.get("BPM_NATS_URL"):
        url = os.environ["BPM_NATS_URL"]
        before = asyncio.run(_stream_names(url))
        yield url
        # a server the tests share with others: remove the streams this session made, as its
        # databases are dropped (`_drop_test_databases`)
        asyncio.run(_delete_new_streams(url, before, re.compile(_TEST_STREAM.format(run_prefix.upper()))))
        return
    from bpm_stack.embedded import EmbeddedNats

    server = EmbeddedNats(infra_dir / "nats")
    yield server.start()
    server.stop()


#: streams the tests make: their namespace is the run prefix (and a letter), or "ev…" with a
#: random suffix for the event backbone's own tests
_TEST_STREAM = r"{}[A-Z]?_[A-Z]+|EV[0-9A-F]{{6}}_TEST"


async def _stream_names(url: str) -> set[str]:
    import nats

    client = await nats.connect(url)
    try:
        return {info.config.name for info in await client.jetstream().streams_info() if info.config.name}
    finally:
        await client.close()


async def _delete_new_streams(url: str, before: set[str], pattern: re.Pattern[str]) -> None:
    """Delete the streams not in `before` whose names match `pattern`."""
    import nats

    client = await nats.connect(url)
    try:
        js = client.jetstream()
        for info in await js.streams_info():
            name = info.config.name
            if name and name not in before and pattern.fullmatch(name):
                await js.delete_stream(name)
    finally:
        await client.close()


def common_settings(pg_url: str, nats_url: str | None = None, **overrides: Any) -> CommonSettings:
    values: dict[str, Any] = {
        "database_url": pg_url,
        "jwt_secret": SecretStr(TEST_JWT_SECRET),
        "log_json": True,
        "log_level": "WARNING",
        "access_log": False,
        "workers_enabled": False,
    }
    if nats_url:
        values["nats_url"] = nats_url
    values.update(overrides)
    return CommonSettings(**values)


@pytest.fixture(scope="session")
def issuer(pg_url: str) -> TokenIssuer:
    return TokenIssuer(common_settings(pg_url))


@pytest.fixture(scope="session")
def token_for(issuer: TokenIssuer) -> Callable[..., str]:
    def _token(username: str, *roles: str, department: str | None = None) -> str:
        return issuer.issue(username, list(roles), department=department)[0]

    return _token


class ServiceDatabase:
    """A migrated database for one service, created once per test session."""

    def __init__(self, url: Any) -> None:
        self.url = url
        self.engine = create_async_engine(
            url, json_serializer=jsonutil.dumps, json_deserializer=jsonutil.loads, pool_size=5
        )

    @asynccontextmanager
    async def rolled_back(self) -> AsyncIterator[Database]:
        """A `Database` whose every commit is undone when the block ends."""
        async with self.engine.connect() as conn:
            outer = await conn.begin()
            try:
                yield Database(self.url, application_name="test", bind=conn)
            finally:
                await outer.rollback()


_created: dict[str, ServiceDatabase] = {}


async def service_database(
    definition: ServiceDefinition, pg_url: str, run_prefix: str
) -> ServiceDatabase:
    name = f"{run_prefix}_{definition.name}"
    if name in _created:
        return _created[name]
    url = make_url(pg_url).set(drivername="postgresql+asyncpg", database=name)
    await ensure_database(url)
    sdb = ServiceDatabase(url)
    await upgrade_to_head(sdb.engine, definition.migrations, definition.name)
    _created[name] = sdb
    return sdb


@pytest_asyncio.fixture(scope="session", loop_scope="session", autouse=True)
async def _drop_test_databases(pg_url: str) -> AsyncIterator[None]:
    yield
    for name, sdb in list(_created.items()):
        await sdb.engine.dispose()
        if not os.environ.get("BPM_TEST_KEEP_DATABASES"):
            await drop_database(make_url(pg_url).set(drivername="postgresql+asyncpg"), name)
        _created.pop(name, None)


class ApiClient(httpx.AsyncClient):
    """An httpx client for one service app, with helpers to act as a user."""

    def __init__(self, app: FastAPI, token_for: Callable[..., str], **kw: Any) -> None:
        super().__init__(transport=httpx.ASGITransport(app=app), base_url="http://test", **kw)
        self.app = app
        self._token_for = token_for

    def as_user(self, username: str, *roles: str, department: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token_for(username, *roles, department=department)}"}


@asynccontextmanager
async def service_client(app: FastAPI, token_for: Callable[..., str]) -> AsyncIterator[ApiClient]:
    """Run the app's lifespan and yield a client for it."""
    async with app.router.lifespan_context(app):
        async with ApiClient(app, token_for) as client:
            yield client


@pytest.fixture(scope="session")
def memory_broker_factory() -> Callable[[], MemoryBroker]:
    return MemoryBroker
