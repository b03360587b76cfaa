"""ISO 8601 durations and date-times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bpm_process.isotime import looks_like_duration, parse_datetime, parse_duration

BASE = datetime(2024, 1, 31, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P1D", BASE + timedelta(days=1)),
        ("PT12H", BASE + timedelta(hours=12)),
        ("PT1.5S", BASE + timedelta(seconds=1.5)),
        ("P1W", BASE + timedelta(weeks=1)),
        ("P1M", datetime(2024, 2, 29, 12, 0, tzinfo=UTC)),
        ("P1Y1M", datetime(2025, 2, 28, 12, 0, tzinfo=UTC)),
        ("P1DT2H30M", BASE + timedelta(days=1, hours=2, minutes=30)),
        ("-P1D", BASE - timedelta(days=1)),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text).add_to(BASE) == expected


@pytest.mark.parametrize("text", ["P", "PT", "1D", "P1H", "PXD", "P1DT", "", "P99999999Y"])
def test_invalid_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_duration_text():
    assert str(parse_duration("P1DT2H")) == "P1DT2H"
    assert str(parse_duration("PT0S")) == "PT0S"
    assert looks_like_duration(" P1D")
    assert not looks_like_duration("2024-01-01")


def test_datetimes():
    assert parse_datetime("2024-05-01T10:00:00Z") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_datetime("2024-05-01T10:00:00+02:00").utcoffset() == timedelta(hours=2)
    assert parse_datetime("2024-05-01T10:00:00").tzinfo is UTC
    assert parse_datetime("2024-05-01") == datetime(2024, 5, 1, tzinfo=UTC)
    tz = timezone(timedelta(hours=8))
    assert parse_datetime("2024-05-01", default_tz=tz).tzinfo is tz
    with pytest.raises(ValueError):
        parse_datetime("tomorrow")


def test_repeating_intervals():
    from datetime import UTC, datetime, timedelta

    from bpm_process.isotime import parse_repeating_interval

    cycle = parse_repeating_interval("R3/PT1H")
    assert cycle.repetitions == 3 and cycle.start is None and str(cycle) == "R3/PT1H"
    origin = datetime(2024, 1, 1, tzinfo=UTC)
    assert cycle.next_after(origin, origin=origin) == origin + timedelta(hours=1)
    assert cycle.next_after(origin, origin=origin, fired=3) is None
    forever = parse_repeating_interval("R/2024-01-01T00:00:00Z/P1D")
    assert forever.repetitions is None
    assert forever.next_after(datetime(2024, 1, 10, 5, tzinfo=UTC), origin=origin) == \
        datetime(2024, 1, 11, tzinfo=UTC)
    for bad in ("0 0 * * *", "R/PT0S", "Rx/PT1H", "R3/-PT1H", "R3"):
        with pytest.raises(ValueError):
            parse_repeating_interval(bad)
