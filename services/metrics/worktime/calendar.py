"""A business calendar and `working_seconds`, the part of a span inside working hours.

Pure and fast: the days strictly between the first and the last day of a span
are counted a week at a time, with holidays and make-up working days found by
bisection in sorted tuples, so the cost does not grow with the span's length.

Everything is in the calendar's wall-clock time: both ends of the span are
converted to the calendar's time zone and working hours are read on the local
clock (a day on which the clocks change still has its working hours, which
nobody schedules across the change).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_SECONDS = 86_400

Interval = tuple[float, float]
"""Working hours of one day: seconds after local midnight, start < end <= 86400."""


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Working hours per weekday (Monday first), holidays, and make-up working days.

    A make-up working day (a weekend day worked instead of a holiday) has
    Monday's working hours. A date may not be both a holiday and a make-up day.
    """

    timezone: str
    week: tuple[tuple[Interval, ...], ...]
    holidays: tuple[dt.date, ...] = ()
    extra_working_days: tuple[dt.date, ...] = ()
    zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _day_seconds: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.week) != 7:
            raise ValueError("a week has seven days of working hours")
        for intervals in self.week:
            _check_intervals(intervals)
        if set(self.holidays) & set(self.extra_working_days):
            raise ValueError("a date cannot be both a holiday and a make-up working day")
        object.__setattr__(self, "zone", ZoneInfo(self.timezone))
        object.__setattr__(self, "holidays", tuple(sorted(set(self.holidays))))
        object.__setattr__(self, "extra_working_days", tuple(sorted(set(self.extra_working_days))))
        object.__setattr__(
            self, "_day_seconds", tuple(sum(b - a for a, b in day) for day in self.week)
        )

    def hours_on(self, day: dt.date) -> tuple[Interval, ...]:
        """The working hours of one date."""
        if _contains(self.holidays, day):
            return ()
        if _contains(self.extra_working_days, day):
            return self.week[0]
        return self.week[day.weekday()]

    def working_seconds_of_days(self, first: dt.date, count: int) -> float:
        """Working seconds of `count` whole days from `first` on."""
        if count <= 0:
            return 0.0
        weeks, rest = divmod(count, 7)
        start = first.weekday()
        total = weeks * sum(self._day_seconds)
        total += sum(self._day_seconds[(start + i) % 7] for i in range(rest))
        end = first + dt.timedelta(days=count)
        for holiday in _between(self.holidays, first, end):
            total -= self._day_seconds[holiday.weekday()]
        for extra in _between(self.extra_working_days, first, end):
            total += self._day_seconds[0] - self._day_seconds[extra.weekday()]
        return total


def default_calendar(timezone: str) -> BusinessCalendar:
    """Monday to Friday, 09:00 to 18:00, no holidays."""
    office: tuple[Interval, ...] = ((9 * 3600.0, 18 * 3600.0),)
    return BusinessCalendar(timezone, (office,) * 5 + ((),) * 2)


def working_seconds(start: dt.datetime, end: dt.datetime, calendar: BusinessCalendar) -> float:
    """Seconds of [start, end) inside the calendar's working hours; 0 if end is not after start.

    Naive datetimes are taken as UTC.
    """
    if end <= start:
        return 0.0
    local_start = _local(start, calendar.zone)
    local_end = _local(end, calendar.zone)
    first, last = local_start.date(), local_end.date()
    if first == last:
        return _overlap(calendar.hours_on(first), _clock(local_start), _clock(local_end))
    total = _overlap(calendar.hours_on(first), _clock(local_start), DAY_SECONDS)
    total += _overlap(calendar.hours_on(last), 0.0, _clock(local_end))
    between = (last - first).days - 1
    return total + calendar.working_seconds_of_days(first + dt.timedelta(days=1), between)


def _local(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(zone).replace(tzinfo=None)


def _clock(moment: dt.datetime) -> float:
    """Seconds after midnight of a wall-clock time."""
    return moment.hour * 3600 + moment.minute * 60 + moment.second + moment.microsecond / 1e6


def _overlap(intervals: Iterable[Interval], start: float, end: float) -> float:
    return sum(max(0.0, min(b, end) - max(a, start)) for a, b in intervals)


def _contains(days: Sequence[dt.date], day: dt.date) -> bool:
    i = bisect.bisect_left(days, day)
    return i < len(days) and days[i] == day


def _between(days: Sequence[dt.date], first: dt.date, end: dt.date) -> Sequence[dt.date]:
    """The dates of a sorted sequence in [first, end)."""
    return days[bisect.bisect_left(days, first) : bisect.bisect_left(days, end)]


def _check_intervals(intervals: Sequence[Interval]) -> None:
    previous_end = 0.0
    for start, end in intervals:
        if not 0 <= start < end <= DAY_SECONDS:
            raise ValueError("working hours must start before they end, within one day")
        if start < previous_end:
            raise ValueError("working hours of a day must be in order and must not overlap")
        previous_end = end
