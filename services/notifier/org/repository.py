"""Queries on the organisation copy. Writes keep the newest event per row (sequence, then time)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.db import driver_connection
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


@dataclass(frozen=True, slots=True)
class Person:
    """A person as the notification rules see them: whether the organisation copy knows them
    (`known`; `email`, `locale`, `active`, `deleted_at` from there) and their preferences
    (`has_preferences`; the other fields)."""

    username: str
    known: bool
    email: str | None
    locale: str | None
    active: bool | None
    deleted_at: dt.datetime | None
    has_preferences: bool
    language: str | None
    timezone: str | None
    channels: dict[str, list[str]] | None
    chat_ids: dict[str, Any] | None
    quiet_start: dt.time | None
    quiet_end: dt.time | None
    digest_enabled: bool | None


# Each of `$1` with what the organisation copy and their preferences say: plain SQL on the
# unit of work's connection (`bpm_common.db.driver_connection`), read by every event handler
# that notifies someone.
_PEOPLE = """SELECT n.username, u.username IS NOT NULL, u.email, u.locale, u.active, u.deleted_at,
    p.username IS NOT NULL, p.language, p.timezone, p.channels, p.chat_ids, p.quiet_start,
    p.quiet_end, p.digest_enabled
FROM unnest($1::text[]) AS n(username)
LEFT OUTER JOIN org_users u ON u.username = n.username
LEFT OUTER JOIN notification_preferences p ON p.username = n.username
"""
_ACTIVE_WITH_ROLES = """SELECT username FROM org_users
WHERE roles && $1::varchar[] AND active IS true AND deleted_at IS NULL
ORDER BY username
"""

_LOOKUPS_KEY = "notifier_org_lookups"


@dataclass
class _Lookups:
    """What one unit of work has read of people and role holders.

    The runtime consumer handles a batch of events in one unit of work, and those events name
    the same people again and again, so each is read once per unit of work. Nothing in such
    a unit of work writes people or preferences (the designer's `org.*` events and the
    preferences API have units of work of their own).
    """

    people: dict[str, Person] = field(default_factory=dict)
    role_holders: dict[tuple[str, ...], list[str]] = field(default_factory=dict)


def _lookups(session: AsyncSession) -> _Lookups:
    lookups: _Lookups | None = session.info.get(_LOOKUPS_KEY)
    if lookups is None:
        lookups = session.info[_LOOKUPS_KEY] = _Lookups()
    return lookups


async def people(session: AsyncSession, usernames: Sequence[str]) -> list[Person]:
    """Each of `usernames` (in that order) with their organisation data and preferences."""
    known = _lookups(session).people
    missing = [name for name in dict.fromkeys(usernames) if name not in known]
    if missing:
        for row in await (await driver_connection(session)).fetch(_PEOPLE, missing):
            known[row[0]] = Person(*row)
    return [known[name] for name in usernames]


async def active_usernames_with_roles(session: AsyncSession, roles: Sequence[str]) -> list[str]:
    """Usernames of active, not deleted people holding at least one of `roles`."""
    if not roles:
        return []
    holders = _lookups(session).role_holders
    key = tuple(roles)
    if key not in holders:
        rows = await (await driver_connection(session)).fetch(_ACTIVE_WITH_ROLES, list(roles))
        holders[key] = [row[0] for row in rows]
    return list(holders[key])


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
