"""Reads of the runtime's organisation copy."""

from __future__ import annotations

from dataclasses import dataclass

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
    people: dict[str, Person] = session.info.setdefault(_PEOPLE, {})
    found = people.get(username)
    if found is None:
        row = await (await driver_connection(session)).fetchrow(_PERSON, username)
        found = (
            _NOBODY
            if row is None
            else Person(frozenset(row["roles"]) if row["usable"] else frozenset(), row["department"])
        )
        people[username] = found
    return found


def forget_people(session: AsyncSession) -> None:
    """Drop what `person` remembered in this unit of work (the org copy changed)."""
    session.info.pop(_PEOPLE, None)


async def roles_of(session: AsyncSession, username: str) -> frozenset[str]:
    """The roles the organisation model gives `username` (empty for unknown users)."""
    return (await person(session, username)).roles


async def department_of(session: AsyncSession, username: str) -> str | None:
    return (await person(session, username)).department
