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


# What the notification rules read of people, in one statement: each of `$1` with what the
# organisation copy and their preferences say (part 0), and every active person holding one
# of the roles `$2`, with the same and their roles (part 1). Plain SQL on the unit of work's
# connection (`bpm_common.db.driver_connection`): every event handler that notifies someone
# reads people.
_LOOKUP = """SELECT 0 AS part, n.username, u.username IS NOT NULL, u.email, u.locale, u.active,
    u.deleted_at, p.username IS NOT NULL, p.language, p.timezone, p.channels, p.chat_ids,
    p.quiet_start, p.quiet_end, p.digest_enabled, NULL::varchar[] AS roles
FROM unnest($1::text[]) AS n(username)
LEFT OUTER JOIN org_users u ON u.username = n.username
LEFT OUTER JOIN notification_preferences p ON p.username = n.username
UNION ALL
SELECT 1, u.username, true, u.email, u.locale, u.active, u.deleted_at,
    p.username IS NOT NULL, p.language, p.timezone, p.channels, p.chat_ids, p.quiet_start,
    p.quiet_end, p.digest_enabled, u.roles
FROM org_users u
LEFT OUTER JOIN notification_preferences p ON p.username = u.username
WHERE u.roles && $2::varchar[] AND u.active IS true AND u.deleted_at IS NULL
ORDER BY part, username
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


@dataclass
class _Asked:
    """The names and role sets units of work look up, so that the next one reads them with
    its first lookup: consecutive batches of events name the same people (the same steps of
    the same processes), and one statement costs less than one per name. Read early, a
    person is what they are at that moment of the unit of work, as one read for an earlier
    event of the batch is for the later ones."""

    names: dict[str, None] = field(default_factory=dict)
    role_sets: dict[tuple[str, ...], None] = field(default_factory=dict)
    previous: _Asked | None = None

    MAX_NAMES = 64
    MAX_ROLE_SETS = 16
    #: a role set with more holders than this is read when asked for, not ahead
    MAX_HOLDERS = 50

    def new_unit(self) -> None:
        self.previous = _Asked(self.names, self.role_sets)
        self.names, self.role_sets = {}, {}

    def ask(self, names: Sequence[str] = (), role_set: tuple[str, ...] | None = None) -> None:
        for name in names:
            if len(self.names) < self.MAX_NAMES:
                self.names[name] = None
        if role_set is not None and len(self.role_sets) < self.MAX_ROLE_SETS:
            self.role_sets[role_set] = None


_ASKED = _Asked()


def _lookups(session: AsyncSession) -> _Lookups:
    lookups: _Lookups | None = session.info.get(_LOOKUPS_KEY)
    if lookups is None:
        lookups = session.info[_LOOKUPS_KEY] = _Lookups()
        _ASKED.new_unit()
    return lookups


async def _read(
    session: AsyncSession,
    lookups: _Lookups,
    names: Sequence[str] = (),
    role_set: tuple[str, ...] | None = None,
) -> None:
    """Read `names` and the holders of `role_set` into `lookups`, with what the previous unit
    of work asked for and this one has not read yet."""
    wanted = dict.fromkeys(names)
    role_sets = {role_set: None} if role_set is not None else {}
    previous = _ASKED.previous
    if previous is not None:
        wanted.update((n, None) for n in previous.names if n not in lookups.people)
        role_sets.update((r, None) for r in previous.role_sets if r not in lookups.role_holders)
    roles = sorted({role for key in role_sets for role in key})
    rows = await (await driver_connection(session)).fetch(_LOOKUP, list(wanted), roles)
    holders: list[tuple[str, list[str]]] = []
    for row in rows:
        person = Person(*row[1:15])
        lookups.people.setdefault(person.username, person)
        if row[0] == 1:
            holders.append((person.username, row[15]))
    for key in role_sets:
        asked = set(key)
        lookups.role_holders[key] = [name for name, held in holders if asked.intersection(held)]


async def people(session: AsyncSession, usernames: Sequence[str]) -> list[Person]:
    """Each of `usernames` (in that order) with their organisation data and preferences."""
    lookups = _lookups(session)
    _ASKED.ask(usernames)
    missing = [name for name in dict.fromkeys(usernames) if name not in lookups.people]
    if missing:
        await _read(session, lookups, names=missing)
    return [lookups.people[name] for name in usernames]


async def active_usernames_with_roles(session: AsyncSession, roles: Sequence[str]) -> list[str]:
    """Usernames of active, not deleted people holding at least one of `roles` (in order)."""
    if not roles:
        return []
    lookups = _lookups(session)
    key = tuple(roles)
    if key not in lookups.role_holders:
        await _read(session, lookups, role_set=key)
    holders = lookups.role_holders[key]
    if len(holders) <= _Asked.MAX_HOLDERS:
        _ASKED.ask(role_set=key)
    return list(holders)


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
