"""Migrations on start: replicas starting together on a new database migrate it once, and
a failing migration reports its own error."""

from __future__ import annotations

import asyncio
import zlib
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from bpm_common.db import drop_database, ensure_database
from bpm_common.migrations import upgrade_to_head
from services.runtime.app import definition as runtime_definition

BROKEN = """
revision = "b0rken000001"
down_revision = None
branch_labels = None
depends_on = None

from alembic import op


def upgrade():
    op.execute("CREATE TABLE first_step (id int)")
    op.execute("SELECT no_such_function()")


def downgrade():
    op.execute("DROP TABLE first_step")
"""


async def _fresh(pg_url: str, run_prefix: str, name: str):
    server = make_url(pg_url).set(drivername="postgresql+asyncpg")
    url = server.set(database=f"{run_prefix}_{name}")
    await drop_database(server, url.database)
    await ensure_database(url)
    return server, url


async def test_the_next_replica_finds_the_migrations_committed(pg_url, run_prefix) -> None:
    """A replica waiting for the migration lock must find the schema committed the moment it
    gets the lock: otherwise it migrates again and fails on what the first one created."""
    for attempt in range(5):
        seen = await _wait_behind_a_migration(pg_url, run_prefix, attempt)
        if seen is not None:
            break
    else:
        pytest.fail("the migrations always ended before a second connection could wait for their lock")
    assert seen["versions"] and seen["instances"]


async def _wait_behind_a_migration(pg_url: str, run_prefix: str, attempt: int) -> Any:
    """What a connection that queued for the migration lock saw on getting it (None when the
    migrations ended before it could queue)."""
    definition = runtime_definition()
    server, url = await _fresh(pg_url, run_prefix, f"migrate_race{attempt}")
    engine = create_async_engine(url)
    waiter = await asyncpg.connect(
        user=url.username,
        password=url.password,
        host=url.query.get("host") or url.host,  # the embedded server's socket directory
        port=url.port,
        database=url.database,
    )
    try:
        first = asyncio.create_task(upgrade_to_head(engine, definition.migrations, "runtime"))
        while not first.done() and not await waiter.fetchval(  # noqa: ASYNC110 - polls the server's locks
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ):
            await asyncio.sleep(0.002)
        if first.done():
            await first
            return None
        # taking the lock and looking follow each other inside the server, with no round trip
        # between them in which the first replica could still commit
        await waiter.execute(
            f"SELECT pg_advisory_lock({zlib.crc32(b'bpm-migrate-runtime')});"
            " CREATE TEMP TABLE seen AS SELECT to_regclass('public.alembic_version') IS NOT NULL AS versions,"
            " to_regclass('public.instances') IS NOT NULL AS instances"
        )
        seen = await waiter.fetchrow("SELECT * FROM seen")
        await first
        return seen
    finally:
        await waiter.close()
        await engine.dispose()
        await drop_database(server, url.database)


async def test_replicas_starting_together_migrate_once(pg_url, run_prefix) -> None:
    definition = runtime_definition()
    server, url = await _fresh(pg_url, run_prefix, "migrate_together")
    engines = [create_async_engine(url) for _ in range(3)]
    try:
        await asyncio.gather(*(upgrade_to_head(e, definition.migrations, "runtime") for e in engines))
        async with engines[0].connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    finally:
        for engine in engines:
            await engine.dispose()
        await drop_database(server, url.database)
    assert versions


async def test_a_failing_migration_reports_its_own_error(pg_url, run_prefix, tmp_path: Path) -> None:
    (tmp_path / "versions").mkdir()
    (tmp_path / "versions" / "b0rken000001_broken.py").write_text(BROKEN)
    env = Path(runtime_definition().migrations) / "env.py"
    (tmp_path / "env.py").write_text(env.read_text())
    server, url = await _fresh(pg_url, run_prefix, "migrate_broken")
    engine = create_async_engine(url)
    try:
        with pytest.raises(DBAPIError, match="no_such_function"):
            await upgrade_to_head(engine, tmp_path, "broken")
        # the lock was given back: another attempt gets as far as the same error
        with pytest.raises(DBAPIError, match="no_such_function"):
            await asyncio.wait_for(upgrade_to_head(engine, tmp_path, "broken"), 30)
    finally:
        await engine.dispose()
        await drop_database(server, url.database)


async def test_open_tasks_that_name_nobody_are_offered_to_admin_on_upgrade(pg_url, run_prefix) -> None:
    """Tasks stored with nobody (before new ones were offered to admin) get `admin` when the
    runtime's database is upgraded; tasks that name someone stay as they are."""
    from alembic import command

    from bpm_common.migrations import alembic_config

    server, url = await _fresh(pg_url, run_prefix, "ownerless")
    engine = create_async_engine(url)
    location = runtime_definition().migrations
    try:
        async with engine.connect() as conn:
            await conn.run_sync(lambda sync: command.upgrade(alembic_config(location, sync), "a7c9e1f3b5d2"))
            for task, assignee in (("00000000-0000-7000-8000-000000000001", None),
                                   ("00000000-0000-7000-8000-000000000002", "bob")):
                await conn.execute(text(
                    "INSERT INTO tasks (id, instance_id, definition_key, definition_version, node_id, state, assignee,"
                    " created_at) VALUES (CAST(:id AS uuid), gen_random_uuid(), 'k', 1, 'a', 'open', :who, now())"
                ), {"id": task, "who": assignee})
            await conn.commit()
        await upgrade_to_head(engine, location, "runtime")
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT assignee, candidate_roles FROM tasks ORDER BY id"))).all()
        assert [(r.assignee, list(r.candidate_roles)) for r in rows] == [(None, ["admin"]), ("bob", [])]
    finally:
        await engine.dispose()
        await drop_database(server, url.database)
