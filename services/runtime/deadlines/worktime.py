"""Working time: a business calendar, `add_working_time` and `working_seconds`.

Pure (no I/O, no clock). Working hours are wall-clock periods of the calendar's time
zone per weekday (a lunch break is a gap between two periods); holidays have none;
make-up working days (调休, a weekend day worked instead of a holiday) have Monday's
hours. Every period is turned into UTC instants with `zoneinfo`, so a period on a day
the clocks change holds exactly the time that really passes in it.

Durations (see `bpm_process.timelimits`): working days move to the same working moment
that many working days later (`P1D` from Monday 17:00 is Tuesday 17:00; from a moment
before a day's first period it is the end of that many working days); the time part is
working time consumed period by period. Both walk whole days at once, never minutes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bpm_process.timelimits import WorkingDuration, parse_working_duration

__all__ = [
    "DEFAULT_WORKING_HOURS",
    "WEEKDAYS",
    "BusinessCalendar",
    "add_working_time",
    "default_calendar",
    "working_seconds",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY = 86_400
MAX_SEARCH_DAYS = 800
#: a time of day as the calendars write it: two ASCII digits, a colon, two ASCII digits
_CLOCK = re.compile(r"[0-9]{2}:[0-9]{2}")
"""A calendar without a working day in this many days has no working time."""

_NINE_TO_SIX = (("09:00", "18:00"),)
DEFAULT_WORKING_HOURS: dict[str, tuple[tuple[str, str], ...]] = {
    day: (_NINE_TO_SIX if day not in ("sat", "sun") else ()) for day in WEEKDAYS
}

Period = tuple[int, int]
"""Seconds after local midnight: start < end <= 86400."""
Span = tuple[dt.datetime, dt.datetime]
"""A working period as UTC instants."""


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Working hours per weekday (Monday first), holidays, make-up working days."""

    name: str
    timezone: str
    week: tuple[tuple[Period, ...], ...]
    holidays: frozenset[dt.date] = frozenset()
    extra_working_days: frozenset[dt.date] = frozenset()
    zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _spans: dict[dt.date, tuple[Span, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        if len(self.week) != 7:
            raise ValueError("working hours need the seven weekdays")
        try:
            object.__setattr__(self, "zone", ZoneInfo(self.timezone))
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{self.timezone!r} is not a known time zone") from None
        both = self.holidays & self.extra_working_days
        if both:
            raise ValueError(f"{min(both)} cannot be both a holiday and a working day")

    @classmethod
    def from_hours(
        cls,
        name: str,
        timezone: str,
        working_hours: Mapping[str, Sequence[Sequence[str]]],
        holidays: Iterable[dt.date] = (),
        extra_working_days: Iterable[dt.date] = (),
    ) -> BusinessCalendar:
        """Build a calendar from `{"mon": [["09:00", "12:00"], ["13:00", "18:00"]], ...}`
        (a weekday left out has no working hours). Raises `ValueError` naming the day."""
        unknown = set(working_hours) - set(WEEKDAYS)
        if unknown:
            raise ValueError(f"unknown weekday {sorted(unknown)[0]!r}; use {', '.join(WEEKDAYS)}")
        week = tuple(_periods(day, working_hours.get(day) or ()) for day in WEEKDAYS)
        return cls(name, timezone, week, frozenset(holidays), frozenset(extra_working_days))

    def working_hours(self) -> dict[str, list[list[str]]]:
        """The weekly hours in the form `from_hours` reads."""
        return {
            day: [[_clock(a), _clock(b)] for a, b in periods]
            for day, periods in zip(WEEKDAYS, self.week, strict=True)
        }

    @property
    def working_days_per_week(self) -> int:
        return sum(1 for periods in self.week if periods)

    def periods(self, day: dt.date) -> tuple[Period, ...]:
        """Wall-clock working periods of one date."""
        if day in self.holidays:
            return ()
        if day in self.extra_working_days:
            return next((periods for periods in self.week if periods), ())
        return self.week[day.weekday()]

    def spans(self, day: dt.date) -> tuple[Span, ...]:
        """The working periods of one date as UTC instants (cached per calendar)."""
        found = self._spans.get(day)
        if found is None:
            midnight = dt.datetime(day.year, day.month, day.day)
            result = []
            for start, end in self.periods(day):
                begin = self._utc(midnight + dt.timedelta(seconds=start))
                finish = self._utc(midnight + dt.timedelta(seconds=end))
                if finish > begin:
                    result.append((begin, finish))
            found = tuple(result)
            if len(self._spans) > 4096:
                self._spans.clear()
            self._spans[day] = found
        return found

    def capacity(self, day: dt.date) -> dt.timedelta:
        """The working time of one date."""
        total = dt.timedelta(0)
        for begin, finish in self.spans(day):
            total += finish - begin
        return total

    def local_date(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(self.zone).date()

    def _utc(self, local: dt.datetime) -> dt.datetime:
        return local.replace(tzinfo=self.zone).astimezone(dt.UTC)

    def next_working_day(self, day: dt.date) -> dt.date:
        """The first date after `day` with working time."""
        for offset in range(1, MAX_SEARCH_DAYS):
            candidate = day + dt.timedelta(days=offset)
            if self.spans(candidate):
                return candidate
        raise ValueError(f"the calendar {self.name!r} has no working time")


def default_calendar() -> BusinessCalendar:
    """Monday to Friday, 09:00-18:00, Asia/Shanghai (the seeded `default` calendar)."""
    return BusinessCalendar.from_hours("default", "Asia/Shanghai", DEFAULT_WORKING_HOURS)


def add_working_time(
    start: dt.datetime, duration: WorkingDuration | str | dt.timedelta, calendar: BusinessCalendar
) -> dt.datetime:
    """The moment (UTC) at which `duration` of working time has passed after `start`."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if isinstance(duration, str):
        duration = parse_working_duration(duration)
    elif isinstance(duration, dt.timedelta):
        if duration < dt.timedelta(0):
            raise ValueError("a working-time duration cannot be negative")
        duration = WorkingDuration(0, 0, duration)
    day, offset = _position(start.astimezone(dt.UTC), calendar)
    days = duration.weeks * calendar.working_days_per_week + duration.days
    if days:
        if offset == dt.timedelta(0):
            # from the start of a working day, n working days end with the n-th day
            for _ in range(days - 1):
                day = calendar.next_working_day(day)
            offset = calendar.capacity(day)
        else:
            for _ in range(days):
                day = calendar.next_working_day(day)
            offset = min(offset, calendar.capacity(day))
    remaining = duration.clock
    while True:
        room = calendar.capacity(day) - offset
        if remaining <= room:
            return _moment_at(calendar, day, offset + remaining)
        remaining -= room
        day = calendar.next_working_day(day)
        offset = dt.timedelta(0)


def working_seconds(start: dt.datetime, end: dt.datetime, calendar: BusinessCalendar) -> float:
    """The working time between two moments, in seconds (0 when `end` is not later)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if end <= start:
        return 0.0
    total = dt.timedelta(0)
    day = calendar.local_date(start)
    last = calendar.local_date(end)
    while day <= last:
        for begin, finish in calendar.spans(day):
            low, high = max(begin, start), min(finish, end)
            if high > low:
                total += high - low
        day += dt.timedelta(days=1)
    return total.total_seconds()


def calendar_from_row(row: Mapping[str, Any]) -> BusinessCalendar:
    """A calendar from its stored row (`calendars` table)."""
    return BusinessCalendar.from_hours(
        row["name"],
        row["timezone"],
        row["working_hours"],
        row.get("holidays") or (),
        row.get("extra_working_days") or (),
    )


def _position(moment: dt.datetime, calendar: BusinessCalendar) -> tuple[dt.date, dt.timedelta]:
    """The first working moment at or after `moment`, as (date, working time of that
    date already passed)."""
    day = calendar.local_date(moment)
    passed = dt.timedelta(0)
    for begin, finish in calendar.spans(day):
        if moment < begin:
            return day, passed
        if moment < finish:
            return day, passed + (moment - begin)
        passed += finish - begin
    if passed:
        return day, passed  # after the day's last period: the end of that working day
    return calendar.next_working_day(day), dt.timedelta(0)


def _moment_at(calendar: BusinessCalendar, day: dt.date, offset: dt.timedelta) -> dt.datetime:
    """The moment at which `offset` of the date's working time has passed (the end of
    a period, not the start of the next, when it falls on the boundary)."""
    for begin, finish in calendar.spans(day):
        length = finish - begin
        if offset <= length:
            return begin + offset
        offset -= length
    return calendar.spans(day)[-1][1]


def _periods(day: str, items: Sequence[Sequence[str]]) -> tuple[Period, ...]:
    periods: list[Period] = []
    for item in items:
        if len(item) != 2:
            raise ValueError(f'{day}: a period is [start, end], e.g. ["09:00", "18:00"]')
        start, end = _seconds(day, item[0]), _seconds(day, item[1])
        if end <= start:
            raise ValueError(f"{day}: the period {item[0]}-{item[1]} ends before it starts")
        periods.append((start, end))
    periods.sort()
    for (_, previous_end), (start, _) in zip(periods, periods[1:], strict=False):
        if start < previous_end:
            raise ValueError(f"{day}: working periods overlap")
    return tuple(periods)


def _seconds(day: str, text: str) -> int:
    if not isinstance(text, str) or _CLOCK.fullmatch(text) is None:
        raise ValueError(f"{day}: {text!r} is not a time of day (HH:MM)")
    hours, minutes = text.split(":")
    value = int(hours) * 3600 + int(minutes) * 60
    if not (0 <= int(minutes) < 60 and 0 <= value <= DAY):
        raise ValueError(f"{day}: {text!r} is not a time of day (HH:MM, 00:00-24:00)")
    return value


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
