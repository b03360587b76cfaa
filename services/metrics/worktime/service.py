"""Rules of the business calendar: validation, the default, and the calendar in force."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.errors import Unprocessable, field_error
from bpm_process.isotime import time_zone_names
from services.metrics.worktime import repository
from services.metrics.worktime.calendar import (
    WEEKDAYS,
    BusinessCalendar,
    Interval,
    default_calendar,
)
from services.metrics.worktime.schemas import CalendarIn, CalendarOut, WeekHours, WorkingPeriod


async def get_calendar(session: AsyncSession, default_timezone: str) -> CalendarOut:
    row = await repository.read(session)
    if row is None:
        return _out(default_calendar(default_timezone), None, None)
    return _out(calendar_from_row(row), row["updated_at"], row["updated_by"])


async def put_calendar(session: AsyncSession, body: CalendarIn, user: str) -> CalendarOut:
    """Replace the calendar; working durations of facts closed later use it."""
    calendar = to_calendar(body)
    row = await repository.write(session, {**_row_values(calendar), "updated_by": user})
    return _out(calendar, row["updated_at"], row["updated_by"])


class CalendarCache:
    """The calendar in force, parsed once per change.

    The event handlers read the row once per unit of work, however many events of a
    consumer batch need it: the events of one transaction take effect together, at its
    commit, and an administrator's change applies from the next unit of work on.
    """

    def __init__(self, default_timezone: str) -> None:
        self.default = default_calendar(default_timezone)
        self._key: Any = None
        self._calendar = self.default

    async def current(self, db: asyncpg.Connection) -> BusinessCalendar:
        """The calendar in force as the transaction on `db` sees it."""
        row = await repository.read_on(db)
        if row is None:
            return self.default
        key = (
            row["timezone"],
            repr(row["working_hours"]),
            tuple(row["holidays"]),
            tuple(row["extra_working_days"]),
        )
        if key != self._key:
            self._calendar, self._key = calendar_from_row(row), key
        return self._calendar


def to_calendar(body: CalendarIn) -> BusinessCalendar:
    """The calendar a request describes; problems name the field at fault."""
    errors: list[dict[str, Any]] = []
    if body.timezone not in time_zone_names():
        errors.append(field_error("timezone", f"unknown time zone {body.timezone!r}"))
    week: list[tuple[Interval, ...]] = []
    for day in WEEKDAYS:
        periods = getattr(body.working_hours, day)
        intervals = tuple((_seconds(p.start), _seconds(p.end)) for p in periods)
        problem = _interval_problem(intervals)
        if problem:
            errors.append(field_error(f"working_hours.{day}", problem))
        week.append(intervals)
    if not any(week) and not any(e["field"].startswith("working_hours") for e in errors):
        errors.append(field_error("working_hours", "a calendar needs working hours"))
    both = sorted(set(body.holidays) & set(body.extra_working_days))
    if both:
        errors.append(
            field_error("extra_working_days", f"{both[0].isoformat()} is also listed as a holiday")
        )
    if errors:
        raise Unprocessable("the calendar is not valid", errors=errors)
    return BusinessCalendar(
        body.timezone, tuple(week), tuple(body.holidays), tuple(body.extra_working_days)
    )


def calendar_from_row(row: Mapping[str, Any]) -> BusinessCalendar:
    hours = row["working_hours"]
    week = tuple(
        tuple((_seconds(a), _seconds(b)) for a, b in hours.get(day, [])) for day in WEEKDAYS
    )
    return BusinessCalendar(
        row["timezone"], week, tuple(row["holidays"]), tuple(row["extra_working_days"])
    )


def _row_values(calendar: BusinessCalendar) -> dict[str, Any]:
    return {
        "timezone": calendar.timezone,
        "working_hours": {
            day: [[_clock(a), _clock(b)] for a, b in calendar.week[i]]
            for i, day in enumerate(WEEKDAYS)
        },
        "holidays": list(calendar.holidays),
        "extra_working_days": list(calendar.extra_working_days),
    }


def _out(
    calendar: BusinessCalendar, updated_at: dt.datetime | None, updated_by: str | None
) -> CalendarOut:
    hours = WeekHours(
        **{
            day: [WorkingPeriod(start=_clock(a), end=_clock(b)) for a, b in calendar.week[i]]
            for i, day in enumerate(WEEKDAYS)
        }
    )
    return CalendarOut(
        timezone=calendar.timezone,
        working_hours=hours,
        holidays=list(calendar.holidays),
        extra_working_days=list(calendar.extra_working_days),
        updated_at=updated_at,
        updated_by=updated_by,
    )


def _interval_problem(intervals: tuple[Interval, ...]) -> str | None:
    previous_end = 0.0
    for start, end in intervals:
        if start >= end:
            return "a working period must start before it ends"
        if start < previous_end:
            return "working periods must be in order and must not overlap"
        previous_end = end
    return None


def _seconds(hhmm: str) -> float:
    hours, minutes = hhmm.split(":")
    return int(hours) * 3600.0 + int(minutes) * 60.0


def _clock(seconds: float) -> str:
    minutes = int(seconds) // 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
