"""Reads and writes of the business calendar. Only flushes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.worktime.models import DEFAULT_CALENDAR, business_calendars


async def read(session: AsyncSession, name: str = DEFAULT_CALENDAR) -> RowMapping | None:
    c = business_calendars.c
    result = await session.execute(select(business_calendars).where(c.name == name))
    return result.mappings().one_or_none()


async def write(
    session: AsyncSession, values: dict[str, Any], name: str = DEFAULT_CALENDAR
) -> RowMapping:
    stmt = insert(business_calendars).values(name=name, **values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[business_calendars.c.name],
        set_={**{k: stmt.excluded[k] for k in values}, "updated_at": func.now()},
    ).returning(business_calendars)
    return (await session.execute(stmt)).mappings().one()
