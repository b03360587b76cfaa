"""Queries of business calendars, and the calendars kept in memory between changes."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common import jsonutil
from bpm_common.db import Database, driver_connection
from bpm_common.listen import listen_forever
from services.runtime.deadlines.models import DEFAULT_CALENDAR, calendars
from services.runtime.deadlines.worktime import (
    BusinessCalendar,
    calendar_from_row,
    default_calendar,
)

CHANGED_CHANNEL = "bpm_runtime_calendars"
"""`pg_notify` channel: the unit of work that saves a calendar announces its name here."""
_WROTE_CALENDARS = "bpm_wrote_calendars"


class CalendarCache:
    """Business calendars in memory, so a new task's due time needs no query.

    A calendar changes rarely and is read for every task with a time limit. The unit of
    work that saves one runs `pg_notify(CHANGED_CHANNEL, name)`; PostgreSQL delivers it
    when (and only if) that work commits, to every runtime replica's listening
    connection, which drops what it holds. Nothing is kept while no listener is
    connected (start-up, a lost connection, tests whose units of work share one
    connection), and a unit of work that saved a calendar reads its own writes.
    """

    def __init__(self) -> None:
        self._entries: dict[str, BusinessCalendar] = {}
        self._by_department: bool | None = None
        self._generation = 0
        self.listening = False

    def get(self, name: str) -> BusinessCalendar | None:
        return self._entries.get(name) if self.listening else None

    @property
    def generation(self) -> int:
        return self._generation

    def put(self, name: str, calendar: BusinessCalendar, generation: int) -> None:
        """Keep `calendar`, read while the cache was at `generation` (dropped if it moved on)."""
        if self.listening and generation == self._generation:
            self._entries[name] = calendar

    def by_department(self) -> bool | None:
        """Whether any calendar names departments (None: not known here)."""
        return self._by_department if self.listening else None

    def put_by_department(self, value: bool, generation: int) -> None:
        if self.listening and generation == self._generation:
            self._by_department = value

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()
        self._by_department = None

    async def listen(self, db: Database) -> None:
        """Keep a connection listening on `CHANGED_CHANNEL` (a background worker; returns only
        when cancelled). Units of work bound to one test connection never cache."""
        if db.bound:
            return
        await listen_forever(
            db.engine.url,
            CHANGED_CHANNEL,
            lambda _name: self.clear(),
            application_name="runtime-calendars",
            on_connected=self._listening,
            on_lost=self._not_listening,
        )

    def _listening(self) -> None:
        self.clear()
        self.listening = True

    def _not_listening(self) -> None:
        self.listening = False
        self.clear()


async def get_row(session: AsyncSession, name: str) -> dict[str, Any] | None:
    row = (
        (await session.execute(select(calendars).where(calendars.c.name == name)))
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def list_rows(session: AsyncSession, after: str | None, limit: int) -> list[dict[str, Any]]:
    query = select(calendars).order_by(calendars.c.name).limit(limit + 1)
    if after is not None:
        query = query.where(calendars.c.name > after)
    return [dict(row) for row in (await session.execute(query)).mappings().all()]


async def save(session: AsyncSession, values: dict[str, Any]) -> dict[str, Any]:
    """Create or replace the calendar `values["name"]`; returns the stored row."""
    stmt = insert(calendars).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[calendars.c.name],
        set_={key: stmt.excluded[key] for key in values if key != "name"},
    ).returning(*calendars.c)
    session.info[_WROTE_CALENDARS] = True
    row = dict((await session.execute(stmt)).mappings().one())
    await session.execute(select(func.pg_notify(CHANGED_CHANNEL, row["name"])))  # delivered on commit
    return row


async def load_calendar(
    session: AsyncSession, name: str = DEFAULT_CALENDAR, cache: CalendarCache | None = None
) -> BusinessCalendar:
    """The business calendar `name` (the built-in default when it is not stored).

    Read for every new task with a time limit: from `cache` while it holds it, else plain
    SQL on the unit of work's connection (see `bpm_common.db.driver_connection`); the
    calendar built from a row is reused while the row stays the same (a calendar is
    immutable; it memoises its days)."""
    use_cache = cache is not None and not session.info.get(_WROTE_CALENDARS)
    if use_cache:
        assert cache is not None
        found = cache.get(name)
        if found is not None:
            return found
        generation = cache.generation
    row = await (await driver_connection(session)).fetchrow(_CALENDAR, name)
    if row is None:
        calendar = _default_calendar()
    else:
        calendar = _built_calendar(
            row["name"], row["timezone"], row["working_hours"], tuple(row["holidays"]), tuple(row["extra_working_days"])
        )
    if use_cache:
        assert cache is not None
        cache.put(name, calendar, generation)
    return calendar


async def calendar_for(
    session: AsyncSession, initiator: str | None, cache: CalendarCache | None = None
) -> BusinessCalendar:
    """The business calendar of a request started by `initiator`: the calendar that names
    the initiator's department, or the nearest department above it that one names, else
    `default`. While no calendar names a department (kept in `cache`), no query is made."""
    name = DEFAULT_CALENDAR
    if initiator and await _by_department(session, cache):
        name = await (await driver_connection(session)).fetchval(_CALENDAR_OF_USER, initiator) or name
    return await load_calendar(session, name, cache)


async def _by_department(session: AsyncSession, cache: CalendarCache | None) -> bool:
    use_cache = cache is not None and not session.info.get(_WROTE_CALENDARS)
    if use_cache:
        assert cache is not None
        known = cache.by_department()
        if known is not None:
            return known
        generation = cache.generation
    found = bool(await (await driver_connection(session)).fetchval(_ANY_DEPARTMENTS))
    if use_cache:
        assert cache is not None
        cache.put_by_department(found, generation)
    return found


async def departments_elsewhere(session: AsyncSession, name: str, departments: list[str]) -> dict[str, str]:
    """Of `departments`, those another calendar than `name` already names -> that calendar."""
    rows = await (await driver_connection(session)).fetch(_DEPARTMENTS_ELSEWHERE, name, departments)
    return {row["department"]: row["name"] for row in rows}


_ANY_DEPARTMENTS = "SELECT EXISTS (SELECT 1 FROM calendars WHERE departments <> '{}')"
_CALENDAR_OF_USER = """
WITH RECURSIVE chain(key, depth) AS (
    SELECT department, 0 FROM org_users WHERE username = $1 AND department IS NOT NULL
  UNION ALL
    SELECT d.parent, c.depth + 1 FROM chain c JOIN org_departments d ON d.key = c.key
    WHERE d.parent IS NOT NULL AND c.depth < 64
)
SELECT cal.name FROM chain c JOIN calendars cal ON c.key = ANY(cal.departments)
ORDER BY c.depth, cal.name LIMIT 1
"""
_DEPARTMENTS_ELSEWHERE = (
    "SELECT d AS department, c.name FROM calendars c, unnest(c.departments) AS d"
    " WHERE c.name <> $1 AND d = ANY($2::text[]) ORDER BY d"
)
_CALENDAR = (
    "SELECT name, timezone, working_hours::text AS working_hours, holidays, extra_working_days"
    " FROM calendars WHERE name = $1"
)


@functools.lru_cache(maxsize=64)
def _built_calendar(
    name: str, timezone: str, working_hours: str, holidays: tuple[Any, ...], extra_working_days: tuple[Any, ...]
) -> BusinessCalendar:
    return calendar_from_row(
        {
            "name": name,
            "timezone": timezone,
            "working_hours": jsonutil.loads(working_hours),
            "holidays": holidays,
            "extra_working_days": extra_working_days,
        }
    )


@functools.cache
def _default_calendar() -> BusinessCalendar:
    return default_calendar()
