"""Reads of the runtime's organisation copy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.db import driver_connection

# On every request (the caller's roles) and every start (the initiator's department):
# plain SQL on the unit of work's connection (see `bpm_common.db.driver_connection`).
_PERSON = "SELECT roles, active AND NOT deleted AS usable, department FROM org_users WHERE username = $1"
_PEOPLE = "bpm_org_people"


@dataclass(frozen=True, slots=True)
class Person:
    """What the organisation copy says about one username (all empty when it does not know them)."""

    roles: frozenset[str]
    """The roles of an active user; none for an inactive, deleted or unknown one."""
    department: str | None


_NOBODY = Person(frozenset(), None)


async def person(session: AsyncSession, username: str) -> Person:
    """`username`'s roles and department, read once per unit of work.

    A request asks for the caller's roles, and a start for the initiator's department:
    one query answers both. The org event handlers forget what was read
    (`forget_people`) when they change the copy in the same unit of work.
    """
    found = session.info.get(_PEOPLE, {}).get(username)
    if found is None:
        row = await (await driver_connection(session)).fetchrow(_PERSON, username)
        found = remember_person(session, username, row and (row["roles"], row["usable"], row["department"]))
    return found


#: `person`'s columns for a statement that reads them beside something else, from
#: `org_users` aliased `u` (joined LEFT: all NULL for an unknown username)
PERSON_COLUMNS = (
    "u.username IS NOT NULL AS person_known, u.roles AS person_roles,"
    " u.active AND NOT u.deleted AS person_usable, u.department AS person_department"
)


def remember_person(
    session: AsyncSession, username: str, found: tuple[list[str], bool, str | None] | None
) -> Person:
    """Keep what a statement read of `username` (roles, usable, department; None when the
    copy does not know them) for `person` in this unit of work."""
    known = _NOBODY if found is None else Person(frozenset(found[0]) if found[1] else frozenset(), found[2])
    session.info.setdefault(_PEOPLE, {})[username] = known
    return known


def person_columns(row: Mapping[str, Any]) -> tuple[list[str], bool, str | None] | None:
    """What `PERSON_COLUMNS` read, in `remember_person`'s form."""
    if not row["person_known"]:
        return None
    return row["person_roles"], row["person_usable"], row["person_department"]


def forget_people(session: AsyncSession) -> None:
    """Drop what `person` remembered in this unit of work (the org copy changed)."""
    session.info.pop(_PEOPLE, None)


async def roles_of(session: AsyncSession, username: str) -> frozenset[str]:
    """The roles the organisation model gives `username` (empty for unknown users)."""
    return (await person(session, username)).roles


async def department_of(session: AsyncSession, username: str) -> str | None:
    return (await person(session, username)).department
