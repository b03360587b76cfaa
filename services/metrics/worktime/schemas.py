"""The calendar API's shapes."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

HOURS_PATTERN = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
MAX_DATES = 5000


class WorkingPeriod(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: str = Field(pattern=HOURS_PATTERN, examples=["09:00"])
    end: str = Field(pattern=HOURS_PATTERN, examples=["18:00"], description="24:00 is midnight.")


def _periods() -> list[WorkingPeriod]:
    return []


class WeekHours(BaseModel):
    """Working periods per weekday; a day left out or empty is not a working day."""

    model_config = ConfigDict(extra="forbid")  # "Mon" or "monday" would be lost without a word

    mon: list[WorkingPeriod] = Field(default_factory=_periods, max_length=12)
    tue: list[WorkingPeriod] = Field(default_factory=_periods, max_length=12)
    wed: list[WorkingPeriod] = Field(default_factory=_periods, max_length=12)
    thu: list[WorkingPeriod] = Field(default_factory=_periods, max_length=12)
    fri: list[WorkingPeriod] = Field(default_factory=_periods, max_length=12)
    sat: list[WorkingPeriod] = Field(default_factory=_periods, max_length=12)
    sun: list[WorkingPeriod] = Field(default_factory=_periods, max_length=12)


class CalendarIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = Field(min_length=1, max_length=64, examples=["Asia/Shanghai"])
    working_hours: WeekHours
    holidays: list[dt.date] = Field(default_factory=list, max_length=MAX_DATES)
    extra_working_days: list[dt.date] = Field(
        default_factory=list,
        max_length=MAX_DATES,
        description="Make-up working days (e.g. a Saturday worked instead of a holiday); "
        "they have Monday's working hours.",
    )


class CalendarOut(CalendarIn):
    updated_at: dt.datetime | None = Field(description="Null while the default is in use.")
    updated_by: str | None
