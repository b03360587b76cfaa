"""Working-time arithmetic of the business calendar (pure: no database)."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest

from services.runtime.deadlines.worktime import (
    BusinessCalendar,
    add_working_time,
    default_calendar,
    working_seconds,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def at(*parts: int, zone: ZoneInfo = SHANGHAI) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=zone)


def local(moment: dt.datetime, zone: ZoneInfo = SHANGHAI) -> dt.datetime:
    return moment.astimezone(zone)


def with_lunch(**extra) -> BusinessCalendar:
    hours = {day: [["09:00", "12:00"], ["13:00", "18:00"]] for day in WEEKDAYS}
    return BusinessCalendar.from_hours("lunch", "Asia/Shanghai", hours, **extra)


# 2025-06-02 is a Monday.
@pytest.mark.parametrize(
    ("start", "duration", "due"),
    [
        (at(2025, 6, 2, 10), "PT2H", at(2025, 6, 2, 12)),
        (at(2025, 6, 2, 9), "PT9H", at(2025, 6, 2, 18)),  # the end of the day, not the next morning
        (at(2025, 6, 6, 17), "PT2H", at(2025, 6, 9, 10)),  # Friday evening over the weekend
        (at(2025, 6, 2, 7), "PT1H", at(2025, 6, 2, 10)),  # before hours: counted from 09:00
        (at(2025, 6, 2, 20), "PT1H", at(2025, 6, 3, 10)),  # after hours: from the next morning
        (at(2025, 6, 7, 10), "PT30M", at(2025, 6, 9, 9, 30)),  # Saturday: from Monday
        (at(2025, 6, 2, 17), "P1D", at(2025, 6, 3, 17)),  # a working day: the same moment tomorrow
        (at(2025, 6, 6, 17), "P1D", at(2025, 6, 9, 17)),
        (at(2025, 6, 7, 10), "P1D", at(2025, 6, 9, 18)),  # from a weekend: the end of Monday
        (at(2025, 6, 2, 8), "P2D", at(2025, 6, 3, 18)),
        (at(2025, 6, 2, 17), "P1DT2H", at(2025, 6, 4, 10)),
        (at(2025, 6, 2, 10), "P1W", at(2025, 6, 9, 10)),  # a working week: five working days
        (at(2025, 6, 2, 10), "PT36H", at(2025, 6, 6, 10)),  # hours stay hours (4 x 9h)
    ],
)
def test_add_working_time_on_the_default_calendar(start, duration, due):
    assert local(add_working_time(start, duration, default_calendar())) == due


def test_results_are_utc():
    due = add_working_time(at(2025, 6, 2, 10), "PT1H", default_calendar())
    assert due.tzinfo == dt.UTC and due == dt.datetime(2025, 6, 2, 3, tzinfo=dt.UTC)


def test_lunch_breaks_are_not_working_time():
    calendar = with_lunch()
    assert local(add_working_time(at(2025, 6, 2, 11), "PT2H", calendar)) == at(2025, 6, 2, 14)
    assert local(add_working_time(at(2025, 6, 2, 9), "PT3H", calendar)) == at(2025, 6, 2, 12)
    assert local(add_working_time(at(2025, 6, 2, 12, 30), "PT1H", calendar)) == at(2025, 6, 2, 14)
    assert working_seconds(at(2025, 6, 2, 11), at(2025, 6, 2, 14), calendar) == 2 * 3600


def test_holidays_are_skipped():
    # Dragon Boat Festival, Monday 2025-06-02
    calendar = with_lunch(holidays=[dt.date(2025, 6, 2)])
    assert local(add_working_time(at(2025, 5, 30, 17), "PT2H", calendar)) == at(2025, 6, 3, 10)
    assert local(add_working_time(at(2025, 5, 30, 17), "P1D", calendar)) == at(2025, 6, 3, 17)
    assert working_seconds(at(2025, 5, 30, 17), at(2025, 6, 3, 10), calendar) == 2 * 3600


def test_a_make_up_saturday_is_worked_with_mondays_hours():
    # 调休: Saturday 2025-09-27 is worked before the National Day holidays
    calendar = with_lunch(
        holidays=[dt.date(2025, 10, 1)], extra_working_days=[dt.date(2025, 9, 27)]
    )
    assert local(add_working_time(at(2025, 9, 26, 17), "PT2H", calendar)) == at(2025, 9, 27, 10)
    assert local(add_working_time(at(2025, 9, 27, 11), "PT2H", calendar)) == at(2025, 9, 27, 14)
    assert local(add_working_time(at(2025, 9, 30, 17), "PT2H", calendar)) == at(2025, 10, 2, 10)
    assert working_seconds(at(2025, 9, 27, 0), at(2025, 9, 28, 0), calendar) == 8 * 3600


def test_daylight_saving_time_changes_keep_the_wall_clock_and_the_real_hours():
    office = BusinessCalendar.from_hours(
        "office", "Europe/Berlin", {d: [["09:00", "17:00"]] for d in WEEKDAYS}
    )
    # Friday 10:00 CET + one working day = Monday 10:00 CEST (clocks went forward on Sunday)
    due = add_working_time(at(2025, 3, 28, 10, zone=BERLIN), "P1D", office)
    assert local(due, BERLIN) == at(2025, 3, 31, 10, zone=BERLIN)
    assert due == dt.datetime(2025, 3, 31, 8, tzinfo=dt.UTC)
    # a night shift on Sunday, the night the clocks change
    berlin = BusinessCalendar.from_hours("berlin", "Europe/Berlin", {"sun": [["00:00", "06:00"]]})
    # Sunday 00:00-06:00 on the night of the change holds five real hours
    assert (
        working_seconds(at(2025, 3, 30, 0, zone=BERLIN), at(2025, 3, 30, 12, zone=BERLIN), berlin)
        == 5 * 3600
    )
    assert local(add_working_time(at(2025, 3, 29, 23, zone=BERLIN), "PT5H", berlin), BERLIN) == at(
        2025, 3, 30, 6, zone=BERLIN
    )
    # and the autumn night holds seven
    assert (
        working_seconds(at(2025, 10, 26, 0, zone=BERLIN), at(2025, 10, 26, 12, zone=BERLIN), berlin)
        == 7 * 3600
    )


def test_working_seconds_over_weekends_and_reversed_spans():
    calendar = default_calendar()
    assert working_seconds(at(2025, 6, 6, 17), at(2025, 6, 9, 10), calendar) == 2 * 3600
    assert working_seconds(at(2025, 6, 7, 0), at(2025, 6, 8, 23), calendar) == 0
    assert working_seconds(at(2025, 6, 9, 10), at(2025, 6, 6, 17), calendar) == 0
    assert working_seconds(at(2025, 1, 1), at(2026, 1, 1), calendar) == 261 * 9 * 3600


def test_adding_then_measuring_gives_the_duration_back():
    calendar = with_lunch(
        holidays=[dt.date(2025, 6, 2), dt.date(2025, 10, 1)],
        extra_working_days=[dt.date(2025, 9, 27)],
    )
    rng = random.Random(7)  # noqa: S311 - a reproducible sample, not a secret
    for _ in range(300):
        start = at(2025, 1, 1) + dt.timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
        hours = dt.timedelta(minutes=rng.randrange(1, 2000 * 60))
        due = add_working_time(start, hours, calendar)
        assert working_seconds(start, due, calendar) == hours.total_seconds()


def test_long_limits_walk_whole_days():
    due = add_working_time(at(2025, 1, 6, 9), "PT2000H", default_calendar())
    assert working_seconds(at(2025, 1, 6, 9), due, default_calendar()) == 2000 * 3600


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({"mon": [["18:00", "09:00"]]}, "ends before it starts"),
        ({"mon": [["09:00", "13:00"], ["12:00", "18:00"]]}, "overlap"),
        ({"mon": [["9", "18:00"]]}, "not a time of day"),
        ({"mon": [["09:00", "24:30"]]}, "not a time of day"),
        ({"monday": [["09:00", "18:00"]]}, "unknown weekday"),
    ],
)
def test_bad_working_hours_are_refused(hours, message):
    with pytest.raises(ValueError, match=message):
        BusinessCalendar.from_hours("x", "UTC", hours)


def test_unknown_zones_conflicting_days_and_empty_calendars_are_refused():
    with pytest.raises(ValueError, match="not a known time zone"):
        BusinessCalendar.from_hours("x", "Mars/Olympus", {})
    with pytest.raises(ValueError, match="both a holiday and a working day"):
        BusinessCalendar.from_hours(
            "x", "UTC", {}, holidays=[dt.date(2025, 1, 1)], extra_working_days=[dt.date(2025, 1, 1)]
        )
    with pytest.raises(ValueError, match="has no working time"):
        add_working_time(at(2025, 1, 1), "PT1H", BusinessCalendar.from_hours("x", "UTC", {}))
    with pytest.raises(ValueError, match="timezone-aware"):
        add_working_time(dt.datetime(2025, 1, 1), "PT1H", default_calendar())
