"""Queries of business calendars."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

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
    """The business calendar `name` (the built-in default when it is not stored)."""
    row = await get_row(session, name)
    return calendar_from_row(row) if row else default_calendar()
