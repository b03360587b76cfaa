"""Queries of business calendars."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common import jsonutil
from bpm_common.db import driver_connection
from services.runtime.deadlines.models import DEFAULT_CALENDAR, calendars
from services.runtime.deadlines.worktime import (
    BusinessCalendar,
    calendar_from_row,
    default_calendar,
)


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
    return dict((await session.execute(stmt)).mappings().one())


async def load_calendar(session: AsyncSession, name: str = DEFAULT_CALENDAR) -> BusinessCalendar:
    """The business calendar `name` (the built-in default when it is not stored).

    Read for every new task with a time limit: plain SQL on the unit of work's connection
    (see `bpm_common.db.driver_connection`), and the calendar built from a row is reused
    while the row stays the same (a calendar is immutable; it memoises its days)."""
    row = await (await driver_connection(session)).fetchrow(_CALENDAR, name)
    if row is None:
        return _default_calendar()
    return _built_calendar(
        row["name"], row["timezone"], row["working_hours"], tuple(row["holidays"]), tuple(row["extra_working_days"])
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
