"""Calendars kept in memory: used while unchanged, dropped on every replica when one is saved."""

from __future__ import annotations

import asyncio
import contextlib

import pytest_asyncio

from bpm_common.db import Database
from bpm_common.testing.plugin import service_database
from services.runtime.app import definition
from services.runtime.deadlines import repository
from services.runtime.deadlines.models import calendars

HOURS = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


@pytest_asyncio.fixture(loop_scope="session")
async def committed_db(pg_url, run_prefix):
    """The runtime's test database without the rolled-back outer transaction: its commits are real
    (the calendar this module writes is removed afterwards)."""
    sdb = await service_database(definition(), pg_url, run_prefix)
    db = Database(sdb.url, application_name="calendar-cache-test")
    try:
        yield db
    finally:
        async with db.transaction() as session:
            await session.execute(calendars.delete().where(calendars.c.name == "cache-test"))
        await db.dispose()


async def _listening(db: Database) -> tuple[repository.CalendarCache, asyncio.Task[None]]:
    cache = repository.CalendarCache()
    task = asyncio.create_task(cache.listen(db))
    for _ in range(200):
        if cache.listening:
            return cache, task
        await asyncio.sleep(0.02)
    raise AssertionError("the calendar listener did not connect")


async def _save(db: Database, timezone: str) -> None:
    async with db.transaction() as session:
        await repository.save(
            session,
            {"name": "cache-test", "timezone": timezone, "working_hours": HOURS, "holidays": [], "extra_working_days": []},
        )


async def _load(db: Database, cache: repository.CalendarCache):
    async with db.transaction() as session:
        return await repository.load_calendar(session, "cache-test", cache=cache)


async def _until(condition) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def test_a_saved_calendar_reaches_every_replica_cache(committed_db):
    await _save(committed_db, "Asia/Shanghai")
    replica_a, task_a = await _listening(committed_db)
    replica_b, task_b = await _listening(committed_db)
    try:
        for cache in (replica_a, replica_b):
            assert (await _load(committed_db, cache)).timezone == "Asia/Shanghai"
            assert cache.get("cache-test") is not None  # kept: the next task needs no query

        await _save(committed_db, "Europe/Berlin")  # committed: announced to both listeners
        await _until(lambda: replica_a.get("cache-test") is None and replica_b.get("cache-test") is None)
        for cache in (replica_a, replica_b):
            assert (await _load(committed_db, cache)).timezone == "Europe/Berlin"
    finally:
        for task in (task_a, task_b):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_a_rolled_back_save_changes_nothing_and_the_saving_work_reads_its_own_write(committed_db):
    await _save(committed_db, "Asia/Shanghai")
    cache, task = await _listening(committed_db)
    try:
        assert (await _load(committed_db, cache)).timezone == "Asia/Shanghai"
        with contextlib.suppress(RuntimeError):
            async with committed_db.transaction() as session:
                await repository.save(
                    session,
                    {"name": "cache-test", "timezone": "Europe/Paris", "working_hours": HOURS,
                     "holidays": [], "extra_working_days": []},
                )
                own = await repository.load_calendar(session, "cache-test", cache=cache)
                assert own.timezone == "Europe/Paris"
                raise RuntimeError("roll back")
        await asyncio.sleep(0.2)  # a notification would have arrived by now
        assert (await _load(committed_db, cache)).timezone == "Asia/Shanghai"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_nothing_is_kept_without_a_listener(committed_db):
    await _save(committed_db, "Asia/Shanghai")
    cache = repository.CalendarCache()
    assert (await _load(committed_db, cache)).timezone == "Asia/Shanghai"
    assert cache.get("cache-test") is None


async def test_whether_calendars_name_departments_is_kept_until_a_calendar_changes(committed_db):
    await _save(committed_db, "Asia/Shanghai")  # a calendar that names no department
    cache, task = await _listening(committed_db)
    try:
        async with committed_db.transaction() as session:
            assert (await repository.calendar_for(session, "alice", cache)).name == "default"
        assert cache.by_department() is False  # the next task with a time limit needs no query

        async with committed_db.transaction() as session:
            await repository.save(
                session,
                {"name": "cache-test", "timezone": "Asia/Shanghai", "working_hours": HOURS, "holidays": [],
                 "extra_working_days": [], "departments": ["sales"]},
            )
        await _until(lambda: cache.by_department() is None)
        async with committed_db.transaction() as session:
            await repository.calendar_for(session, "alice", cache)
        assert cache.by_department() is True
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
