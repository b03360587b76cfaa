"""HTTP API: business calendars, the working time in which `bpm:timeLimit` is counted.

Read by administrators and process designers (who set time limits); written by
administrators. Changing a calendar affects tasks created afterwards; due times
already set stay.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import Path, Query
from sqlalchemy import select

from bpm_common.auth import ADMIN, DESIGNER, Principal, require_roles
from bpm_common.db import SessionDep
from bpm_common.errors import NotFound, Unprocessable, field_error
from bpm_common.http import api_router
from bpm_common.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor, text
from bpm_process.isotime import time_zone_names
from services.runtime.deadlines import repository
from services.runtime.deadlines.schemas import CalendarIn, CalendarOut, CalendarPage
from services.runtime.deadlines.worktime import BusinessCalendar, add_working_time, calendar_from_row
from services.runtime.instances.service import utcnow
from services.runtime.org.models import org_departments

router = api_router(prefix="/api/v1", tags=["calendars"])

CalendarName = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_.-]{1,100}$", description="e.g. `default`")
]


@router.get(
    "/calendars",
    response_model=CalendarPage,
    summary="Business calendars",
    dependencies=[require_roles(DESIGNER)],
)
async def list_calendars(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Any:
    after = decode_cursor(cursor, text)
    rows = await repository.list_rows(session, after[0] if after else None, limit)
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [_view(row) for row in rows],
        "next_cursor": encode_cursor(rows[-1]["name"]) if more else None,
    }


@router.get(
    "/calendars/{name}",
    response_model=CalendarOut,
    summary="One business calendar",
    dependencies=[require_roles(DESIGNER)],
)
async def get_calendar(name: CalendarName, session: SessionDep) -> Any:
    row = await repository.get_row(session, name)
    if row is None:
        raise NotFound(f"calendar {name!r} not found")
    return _view(row)


@router.put(
    "/calendars/{name}", response_model=CalendarOut, summary="Create or replace a business calendar"
)
async def put_calendar(
    name: CalendarName,
    body: CalendarIn,
    session: SessionDep,
    principal: Principal = require_roles(ADMIN, allow_system=False),
) -> Any:
    """Due times of tasks created from now on are counted in the new calendar."""
    _check(name, body)
    departments = list(dict.fromkeys(body.departments))
    await _check_departments(session, name, departments)
    row = await repository.save(
        session,
        {
            "name": name,
            "timezone": body.timezone,
            "working_hours": {
                day: [list(p) for p in periods] for day, periods in body.working_hours.items()
            },
            "holidays": sorted(set(body.holidays)),
            "extra_working_days": sorted(set(body.extra_working_days)),
            "departments": departments,
            "updated_at": utcnow(),
            "updated_by": principal.username,
        },
    )
    return _view(row)


def _check(name: str, body: CalendarIn) -> BusinessCalendar:
    """The calendar the body describes; 422 naming the field at fault."""
    if body.timezone not in time_zone_names():
        raise Unprocessable(
            "invalid calendar", errors=[field_error("timezone", f"{body.timezone!r} is not a known time zone")]
        )
    try:
        BusinessCalendar(name, body.timezone, ((),) * 7)
    except ValueError as exc:
        raise Unprocessable(
            "invalid calendar", errors=[field_error("timezone", str(exc))]
        ) from None
    try:
        hours = BusinessCalendar.from_hours(name, body.timezone, body.working_hours)
    except ValueError as exc:
        raise Unprocessable(
            "invalid calendar", errors=[field_error("working_hours", str(exc))]
        ) from None
    if not hours.working_days_per_week:
        raise Unprocessable(
            "invalid calendar",
            errors=[field_error("working_hours", "a calendar needs working hours")],
        )
    try:
        calendar = BusinessCalendar(
            name,
            body.timezone,
            hours.week,
            frozenset(body.holidays),
            frozenset(body.extra_working_days),
        )
    except ValueError as exc:
        raise Unprocessable(
            "invalid calendar", errors=[field_error("extra_working_days", str(exc))]
        ) from None
    try:  # holidays may leave no working day within reach: no time limit could be counted
        add_working_time(dt.datetime.now(dt.UTC), "PT1M", calendar)
    except ValueError as exc:
        raise Unprocessable(
            "invalid calendar", errors=[field_error("holidays", f"no working time is left: {exc}")]
        ) from None
    return calendar


async def _check_departments(session: SessionDep, name: str, departments: list[str]) -> None:
    """Each department is one the organisation has, and in no other calendar; 422 naming
    the entry at fault."""
    if not departments:
        return
    known = set(
        (await session.execute(
            select(org_departments.c.key).where(
                org_departments.c.key.in_(departments), org_departments.c.deleted.is_(False)
            )
        )).scalars()
    )
    taken = await repository.departments_elsewhere(session, name, departments)
    errors = []
    for index, key in enumerate(departments):
        if key not in known:
            errors.append(field_error(f"departments.{index}", f"the organisation has no department {key!r}"))
        elif key in taken:
            errors.append(field_error(f"departments.{index}", f"{key!r} is already in the calendar {taken[key]!r}"))
    if errors:
        raise Unprocessable("invalid calendar", errors=errors)


def _view(row: dict[str, Any]) -> dict[str, Any]:
    calendar = calendar_from_row(row)
    return {
        "name": row["name"],
        "timezone": row["timezone"],
        "working_hours": calendar.working_hours(),
        "holidays": sorted(row["holidays"] or []),
        "extra_working_days": sorted(row["extra_working_days"] or []),
        "departments": list(row["departments"] or []),
        "updated_at": row["updated_at"],
        "updated_by": row["updated_by"],
    }
