"""Reads and writes of the business calendar. Only flushes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg
from sqlalchemy import RowMapping, bindparam, func, select
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.worktime.models import DEFAULT_CALENDAR, business_calendars


async def read(session: AsyncSession, name: str = DEFAULT_CALENDAR) -> RowMapping | None:
    c = business_calendars.c
    result = await session.execute(select(business_calendars).where(c.name == name))
    return result.mappings().one_or_none()


_READ_ON_DRIVER = (
    select(business_calendars)
    .where(business_calendars.c.name == bindparam("name"))
    .compile(dialect=asyncpg_dialect.dialect())
    .string
)


async def read_on(db: asyncpg.Connection, name: str = DEFAULT_CALENDAR) -> Mapping[str, Any] | None:
    """`read` on an asyncpg connection (the event handlers apply their events on one)."""
    return await db.fetchrow(_READ_ON_DRIVER, name)


async def write(
    session: AsyncSession, values: dict[str, Any], name: str = DEFAULT_CALENDAR
) -> RowMapping:
    stmt = insert(business_calendars).values(name=name, **values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[business_calendars.c.name],
        set_={**{k: stmt.excluded[k] for k in values}, "updated_at": func.now()},
    ).returning(business_calendars)
    return (await session.execute(stmt)).mappings().one()
