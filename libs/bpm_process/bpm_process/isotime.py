"""ISO 8601 date-times and durations as BPMN models write them.

Used for user task due dates and timer definitions (``timeDate``, ``timeDuration``,
``timeCycle``). Everything here is pure: "now" is always passed in.
"""

from __future__ import annotations

import calendar
import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import available_timezones

__all__ = [
    "IsoDuration",
    "RepeatingInterval",
    "parse_repeating_interval",
    "looks_like_duration",
    "parse_datetime",
    "parse_duration",
]

_DURATION = re.compile(
    r"""
    (?P<sign>[-+])?P
    (?:(?P<years>\d{1,6})Y)?
    (?:(?P<months>\d{1,6})M)?
    (?:(?P<weeks>\d{1,6})W)?
    (?:(?P<days>\d{1,7})D)?
    (?:T
        (?:(?P<hours>\d{1,8})H)?
        (?:(?P<minutes>\d{1,10})M)?
        (?:(?P<seconds>\d{1,12}(?:[.,]\d{1,9})?)S)?
    )?
    """,
    re.VERBOSE,
)

# Far enough for any business deadline, small enough that datetime arithmetic on the
# result can never overflow.
_MAX_SPAN = timedelta(days=366 * 1000)


@dataclass(frozen=True, slots=True)
class IsoDuration:
    """An ISO 8601 duration such as ``P1D``, ``PT12H`` or ``P1Y2M``.

    Years and months are calendar units (``P1M`` from 31 January is the last day of
    February), everything else is an exact span of time.
    """

    years: int = 0
    months: int = 0
    span: timedelta = timedelta(0)
    negative: bool = False

    def add_to(self, moment: datetime) -> datetime:
        """Return ``moment`` moved by this duration (backwards when it is negative)."""
        sign = -1 if self.negative else 1
        result = moment
        total_months = sign * (self.years * 12 + self.months)
        if total_months:
            result = _add_months(result, total_months)
        try:
            return result + self.span if sign > 0 else result - self.span
        except OverflowError:
            raise ValueError("date is out of range after adding the duration") from None

    def __str__(self) -> str:
        parts = ["-P" if self.negative else "P"]
        if self.years:
            parts.append(f"{self.years}Y")
        if self.months:
            parts.append(f"{self.months}M")
        days = self.span.days
        seconds = self.span.seconds
        micros = self.span.microseconds
        if days:
            parts.append(f"{days}D")
        if seconds or micros or len(parts) == 1:
            parts.append("T")
            hours, rest = divmod(seconds, 3600)
            minutes, secs = divmod(rest, 60)
            if hours:
                parts.append(f"{hours}H")
            if minutes:
                parts.append(f"{minutes}M")
            if secs or micros or (not hours and not minutes):
                value = Decimal(secs) + Decimal(micros) / Decimal(1_000_000)
                parts.append(f"{value.normalize():f}S")
        return "".join(parts)


def looks_like_duration(text: str) -> bool:
    """True when ``text`` has the shape of an ISO 8601 duration (``P...``)."""
    stripped = text.strip()
    return stripped[:1] in ("P", "p") or stripped[:2] in ("-P", "+P")


def parse_duration(text: str) -> IsoDuration:
    """Parse an ISO 8601 duration; raise ``ValueError`` when it is not one."""
    stripped = text.strip().upper()
    match = _DURATION.fullmatch(stripped)
    if match is None or stripped.endswith(("P", "T")):
        raise ValueError(f"{text!r} is not an ISO 8601 duration (e.g. P1D or PT12H)")
    groups = match.groupdict()
    if not any(groups[name] for name in ("years", "months", "weeks", "days", "hours",
                                         "minutes", "seconds")):
        raise ValueError(f"{text!r} is not an ISO 8601 duration (e.g. P1D or PT12H)")
    seconds_text = (groups["seconds"] or "0").replace(",", ".")
    try:
        seconds = Decimal(seconds_text)
    except InvalidOperation:
        raise ValueError(f"{text!r} has an invalid seconds part") from None
    years = int(groups["years"] or 0)
    months = int(groups["months"] or 0)
    try:
        span = timedelta(
            weeks=int(groups["weeks"] or 0),
            days=int(groups["days"] or 0),
            hours=int(groups["hours"] or 0),
            minutes=int(groups["minutes"] or 0),
            seconds=int(seconds),
            microseconds=int((seconds - int(seconds)) * 1_000_000),
        )
    except OverflowError:
        raise ValueError(f"duration {text!r} is too long") from None
    if span > _MAX_SPAN or years * 12 + months > 12 * 1000:
        raise ValueError(f"duration {text!r} is too long (at most 1000 years)")
    return IsoDuration(years=years, months=months, span=span, negative=groups["sign"] == "-")


def parse_datetime(text: str, *, default_tz: object = UTC) -> datetime:
    """Parse an ISO 8601 date-time (or a date, meaning its midnight) into an aware
    datetime; a value without an offset is taken to be in ``default_tz`` (UTC).

    Raises ``ValueError`` when the text is not an ISO 8601 date or date-time.
    """
    stripped = text.strip()
    if not stripped or len(stripped) > 64:
        raise ValueError(f"{text!r} is not an ISO 8601 date-time")
    try:
        if "T" in stripped or "t" in stripped or " " in stripped:
            moment = datetime.fromisoformat(stripped)
        else:
            day = date.fromisoformat(stripped)
            moment = datetime(day.year, day.month, day.day)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=default_tz)  # type: ignore[arg-type]
    return moment


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + (moment.month - 1) + months
    year, month_index = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise ValueError("date is out of range after adding the duration")
    month = month_index + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@dataclass(frozen=True, slots=True)
class RepeatingInterval:
    """An ISO 8601 repeating interval as BPMN ``timeCycle`` writes it:
    ``R3/PT1H`` (three times, an hour apart), ``R/P1D`` (for ever, daily) or
    ``R5/2024-01-01T09:00:00Z/P1D`` (five times, daily, the first at the start).

    ``repetitions`` is ``None`` for an unbounded cycle.
    """

    repetitions: int | None
    period: IsoDuration
    start: datetime | None = None

    def occurrence(self, index: int, origin: datetime) -> datetime:
        """The ``index``-th (0-based) occurrence. Without a start date the first one
        is one period after ``origin``; with a start date it is the start itself."""
        moment = self.start if self.start is not None else self.period.add_to(origin)
        for _ in range(index):
            moment = self.period.add_to(moment)
        return moment

    def next_after(self, after: datetime, *, origin: datetime, fired: int = 0) -> datetime | None:
        """The first occurrence later than ``after`` that is still allowed, counting
        ``fired`` occurrences that already happened (relevant without a start date)."""
        if self.start is None:
            if self.repetitions is not None and fired >= self.repetitions:
                return None
            moment = self.period.add_to(origin)
            while moment <= after:
                moment = self.period.add_to(moment)
            return moment
        moment = self.start
        index = 0
        while moment <= after:
            index += 1
            if self.repetitions is not None and index >= self.repetitions:
                return None
            moment = self.period.add_to(moment)
            if index > 1_000_000:  # pragma: no cover - guarded by period > 0
                return None
        if self.repetitions is not None and index >= self.repetitions:
            return None
        return moment

    def __str__(self) -> str:
        count = "" if self.repetitions is None else str(self.repetitions)
        if self.start is not None:
            return f"R{count}/{self.start.isoformat()}/{self.period}"
        return f"R{count}/{self.period}"


def parse_repeating_interval(text: str) -> RepeatingInterval:
    """Parse ``R[n]/[start/]duration``; raise ``ValueError`` for anything else
    (cron expressions included: write the schedule as an ISO 8601 cycle)."""
    stripped = text.strip()
    parts = stripped.split("/")
    if len(parts) not in (2, 3) or not parts[0].upper().startswith("R"):
        raise ValueError(
            f"{text!r} is not an ISO 8601 repeating interval (e.g. R3/PT1H or "
            "R/2024-01-01T09:00:00Z/P1D); cron expressions are not supported"
        )
    count_text = parts[0][1:]
    repetitions: int | None = None
    if count_text:
        if not count_text.isdigit() or len(count_text) > 9:
            raise ValueError(f"{text!r}: the repetition count must be a whole number")
        repetitions = int(count_text)
    start = None
    if len(parts) == 3:
        start = parse_datetime(parts[1])
        period_text = parts[2]
    else:
        period_text = parts[1]
    period = parse_duration(period_text)
    if period.negative or (not period.years and not period.months
                           and period.span <= timedelta(0)):
        raise ValueError(f"{text!r}: the period must be longer than zero")
    return RepeatingInterval(repetitions, period, start)


@functools.cache
def time_zone_names() -> frozenset[str]:
    """The IANA time zone names a calendar may be kept in. `zoneinfo` also opens any file
    of the zone directory (`localtime`, `posixrules`), which names no zone of the world."""
    return (frozenset(available_timezones()) | {"UTC"}) - {"localtime", "posixrules", "Factory"}
