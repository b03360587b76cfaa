"""Working time in a business calendar (pure logic), checked against a day-by-day count."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest

from services.metrics.worktime.calendar import (
    BusinessCalendar,
    default_calendar,
    working_seconds,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOUR = 3600.0
OFFICE = default_calendar("Asia/Shanghai")


def local(*args: int, zone: ZoneInfo = SHANGHAI) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zone)


def day_by_day(start: dt.datetime, end: dt.datetime, calendar: BusinessCalendar) -> float:
    """The slow, obvious count: every local day's working periods cut to the span."""
    zone = calendar.zone
    s = start.astimezone(zone).replace(tzinfo=None)
    e = end.astimezone(zone).replace(tzinfo=None)
    total, day = 0.0, s.date()
    while day <= e.date():
        midnight = dt.datetime.combine(day, dt.time())
        for a, b in calendar.hours_on(day):
            lo = max(s, midnight + dt.timedelta(seconds=a))
            hi = min(e, midnight + dt.timedelta(seconds=b))
            total += max(0.0, (hi - lo).total_seconds())
        day += dt.timedelta(days=1)
    return total


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        (local(2026, 3, 2, 10), local(2026, 3, 2, 12), 2),  # Monday morning
        (local(2026, 3, 2, 7), local(2026, 3, 2, 20), 9),  # a whole working day
        (local(2026, 3, 6, 17), local(2026, 3, 9, 10), 2),  # Friday evening to Monday
        (local(2026, 3, 7, 9), local(2026, 3, 8, 18), 0),  # a weekend
        (local(2026, 3, 2, 9), local(2026, 3, 9, 9), 45),  # one week
        (local(2026, 3, 2, 12), local(2026, 3, 2, 12), 0),  # empty
        (local(2026, 3, 2, 12), local(2026, 3, 2, 11), 0),  # reversed
    ],
)
def test_office_hours(start: dt.datetime, end: dt.datetime, hours: float):
    assert working_seconds(start, end, OFFICE) == hours * HOUR


def test_times_in_another_zone_are_read_on_the_calendars_clock():
    # 01:00-04:00 UTC is 09:00-12:00 in Shanghai
    start = dt.datetime(2026, 3, 2, 1, tzinfo=dt.UTC)
    assert working_seconds(start, start + dt.timedelta(hours=3), OFFICE) == 3 * HOUR
    naive_utc = dt.datetime(2026, 3, 2, 1)
    assert working_seconds(naive_utc, naive_utc + dt.timedelta(hours=3), OFFICE) == 3 * HOUR


def test_holidays_and_make_up_days():
    calendar = BusinessCalendar(
        "Asia/Shanghai",
        OFFICE.week,
        holidays=(dt.date(2026, 10, 1), dt.date(2026, 10, 2)),  # Thursday, Friday
        extra_working_days=(dt.date(2026, 10, 10),),  # a Saturday worked instead
    )
    week = (local(2026, 9, 28, 0), local(2026, 10, 5, 0))
    assert working_seconds(*week, calendar) == 3 * 9 * HOUR
    saturday = (local(2026, 10, 10, 8), local(2026, 10, 10, 12))
    assert working_seconds(*saturday, calendar) == 3 * HOUR
    assert working_seconds(local(2026, 10, 1, 10), local(2026, 10, 1, 11), calendar) == 0


def test_a_lunch_break_is_not_working_time():
    day = ((9 * HOUR, 12 * HOUR), (13 * HOUR, 18 * HOUR))
    calendar = BusinessCalendar("Asia/Shanghai", (day,) * 5 + ((),) * 2)
    assert working_seconds(local(2026, 3, 2, 11), local(2026, 3, 2, 14), calendar) == 2 * HOUR
    assert working_seconds(local(2026, 3, 2, 0), local(2026, 3, 3, 0), calendar) == 8 * HOUR


def test_long_spans_match_the_day_by_day_count():
    rng = random.Random(1849)  # noqa: S311 - reproducible test data
    holidays = tuple(dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(730)) for _ in range(30))
    extra = tuple(
        d
        for d in (dt.date(2026, 1, 3) + dt.timedelta(days=7 * rng.randrange(100)) for _ in range(8))
        if d not in holidays
    )
    day = ((8.5 * HOUR, 12 * HOUR), (13.5 * HOUR, 17.75 * HOUR))
    calendar = BusinessCalendar(
        "Asia/Shanghai", (day,) * 5 + (((10 * HOUR, 14 * HOUR),), ()), holidays, extra
    )
    base = local(2026, 1, 1)
    for _ in range(300):
        start = base + dt.timedelta(seconds=rng.randrange(730 * 86400))
        end = start + dt.timedelta(seconds=rng.randrange(400 * 86400))
        assert working_seconds(start, end, calendar) == pytest.approx(
            day_by_day(start, end, calendar)
        )


def test_wall_clock_hours_on_days_the_clocks_change():
    berlin = ZoneInfo("Europe/Berlin")
    calendar = default_calendar("Europe/Berlin")
    # the clocks went forward on Sunday 29 March 2026; Monday still has nine hours
    start, end = local(2026, 3, 27, 12, zone=berlin), local(2026, 3, 30, 12, zone=berlin)
    assert working_seconds(start, end, calendar) == 6 * HOUR + 3 * HOUR


def test_a_calendar_refuses_inconsistent_hours():
    with pytest.raises(ValueError, match="overlap"):
        BusinessCalendar("UTC", (((9 * HOUR, 12 * HOUR), (11 * HOUR, 13 * HOUR)),) + ((),) * 6)
    with pytest.raises(ValueError, match="holiday"):
        BusinessCalendar("UTC", OFFICE.week, (dt.date(2026, 1, 1),), (dt.date(2026, 1, 1),))
