"""Queries on the organisation copy. Writes keep the newest event per row (sequence, then time)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.org.models import OrgDepartment, OrgUser


async def upsert_user(
    session: AsyncSession, values: dict[str, Any], *, sequence: int, event_time: dt.datetime
) -> bool:
    """Insert or update a user unless a newer event already wrote it; True if written."""
    return await _upsert(
        session,
        OrgUser,
        OrgUser.username,
        {**values, "deleted_at": None},
        sequence=sequence,
        event_time=event_time,
    )


async def delete_user(
    session: AsyncSession, username: str, *, sequence: int, event_time: dt.datetime
) -> bool:
    """Leave a tombstone so older upserts arriving later are ignored; True if written."""
    return await _upsert(
        session,
        OrgUser,
        OrgUser.username,
        {"username": username, "active": False, "deleted_at": event_time},
        sequence=sequence,
        event_time=event_time,
    )


async def upsert_department(
    session: AsyncSession, values: dict[str, Any], *, sequence: int, event_time: dt.datetime
) -> bool:
    return await _upsert(
        session,
        OrgDepartment,
        OrgDepartment.key,
        {**values, "deleted_at": None},
        sequence=sequence,
        event_time=event_time,
    )


async def delete_department(
    session: AsyncSession, key: str, *, sequence: int, event_time: dt.datetime
) -> bool:
    return await _upsert(
        session,
        OrgDepartment,
        OrgDepartment.key,
        {"key": key, "deleted_at": event_time},
        sequence=sequence,
        event_time=event_time,
    )


async def _upsert(
    session: AsyncSession,
    model: type[OrgUser] | type[OrgDepartment],
    key_column: Any,
    values: dict[str, Any],
    *,
    sequence: int,
    event_time: dt.datetime,
) -> bool:
    """One statement: insert, or update the given columns if the stored row is older than the event.

    An upsert passes every data column (the event carries the whole row); a tombstone passes
    only `deleted_at`, so the last known data stays.
    """
    row = {**values, "sequence": sequence, "event_time": event_time}
    stmt = pg_insert(model).values(**row)
    updates: dict[str, Any] = {name: stmt.excluded[name] for name in row if name != key_column.key}
    updates["updated_at"] = func.now()
    stored = model.__table__.c
    stmt = stmt.on_conflict_do_update(
        index_elements=[key_column],
        set_=updates,
        where=tuple_(stored.sequence, stored.event_time)
        < tuple_(stmt.excluded.sequence, stmt.excluded.event_time),
    ).returning(key_column)
    return (await session.execute(stmt)).first() is not None


async def users_by_name(session: AsyncSession, usernames: Iterable[str]) -> dict[str, OrgUser]:
    names = sorted(set(usernames))
    if not names:
        return {}
    rows = await session.scalars(select(OrgUser).where(OrgUser.username.in_(names)))
    return {u.username: u for u in rows}


async def active_usernames_with_roles(session: AsyncSession, roles: Sequence[str]) -> list[str]:
    """Usernames of active, not deleted people holding at least one of `roles`."""
    if not roles:
        return []
    rows = await session.scalars(
        select(OrgUser.username)
        .where(
            OrgUser.roles.overlap(list(roles)),
            OrgUser.active.is_(True),
            OrgUser.deleted_at.is_(None),
        )
        .order_by(OrgUser.username)
    )
    return list(rows)


async def manager_of(session: AsyncSession, username: str, *, max_levels: int = 10) -> str | None:
    """The person's manager: their department's manager, or (for the manager themself, or a
    department without one) the nearest manager of a parent department."""
    user = await session.get(OrgUser, username)
    key = user.department if user is not None else None
    seen: set[str] = set()
    while key and key not in seen and len(seen) < max_levels:
        seen.add(key)
        department = await session.get(OrgDepartment, key)
        if department is None or department.deleted_at is not None:
            return None
        if department.manager and department.manager != username:
            return department.manager
        key = department.parent
    return None
