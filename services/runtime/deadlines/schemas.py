"""API shapes of business calendars."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Period = tuple[str, str]
DepartmentKey = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class CalendarIn(BaseModel):
    """A business calendar: working hours per weekday in the calendar's time zone (a
    lunch break is a gap between two periods), holidays, and make-up working days
    (调休, which have Monday's hours)."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = Field(min_length=1, max_length=64, examples=["Asia/Shanghai"])
    working_hours: dict[str, list[Period]] = Field(
        examples=[{"mon": [["09:00", "12:00"], ["13:00", "18:00"]], "sat": []}],
        description="Weekday (mon ... sun) -> periods [start, end] as HH:MM; a weekday left out has none.",
    )
    holidays: list[dt.date] = Field(default_factory=list, max_length=2000)
    extra_working_days: list[dt.date] = Field(default_factory=list, max_length=2000)
    departments: list[DepartmentKey] = Field(
        default_factory=list,
        max_length=500,
        description="Departments whose requests count in this calendar, with their sub-departments"
        " (the nearest department up the initiator's tree decides); requests of others use `default`.",
    )


class CalendarOut(BaseModel):
    name: str
    timezone: str
    working_hours: dict[str, list[Period]]
    holidays: list[dt.date]
    extra_working_days: list[dt.date]
    departments: list[str]
    updated_at: dt.datetime
    updated_by: str | None


class CalendarPage(BaseModel):
    items: list[CalendarOut]
    next_cursor: str | None
