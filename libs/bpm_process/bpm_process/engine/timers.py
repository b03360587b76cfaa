"""Timer definitions (``timeDate``, ``timeDuration``, ``timeCycle``) and when they fire.

A :class:`TimerDefinition` is compiled once per timer event. Literal values are parsed
at compile time (a bad one is a deployment error); expressions (``${reminder}``,
``=duration``) are evaluated when the timer starts, against the variables in scope.
An expression may yield an ISO 8601 text, a ``datetime``/``date`` (for ``timeDate``)
or a ``timedelta``.

:func:`next_fire` is what the runtime uses to schedule timer start events; the engine
uses :meth:`TimerDefinition.first_due` and :meth:`TimerDefinition.next_due` for the
jobs it creates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from bpm_process.engine.errors import ExpressionFailed
from bpm_process.expressions import Expression, ExpressionError
from bpm_process.isotime import (
    IsoDuration,
    RepeatingInterval,
    parse_datetime,
    parse_duration,
    parse_repeating_interval,
)

__all__ = ["CYCLE", "DATE", "DURATION", "TimerDefinition", "next_fire", "parse_timer_value"]

DATE = "date"
DURATION = "duration"
CYCLE = "cycle"

_EMPTY: Mapping[str, Any] = {}
#: months or years stepped over at most when catching up a calendar cycle (ten thousand
#: months is more than eight centuries)
_MAX_CALENDAR_STEPS = 10_000


@dataclass(frozen=True, slots=True)
class TimerDefinition:
    """One timer: its kind, its source text, and either the parsed literal or the
    expression to evaluate."""

    kind: str
    """``date``, ``duration`` or ``cycle``."""
    source: str
    expression: Expression | None = None
    at: datetime | None = None
    duration: IsoDuration | None = None
    cycle: RepeatingInterval | None = None

    def resolve(self, context: Mapping[str, Any], element_id: str) -> TimerDefinition:
        """This definition with its expression evaluated (itself when literal)."""
        if self.expression is None:
            return self
        try:
            value = self.expression.evaluate(context)
        except ExpressionError as exc:
            raise ExpressionFailed(f"the timer of {element_id!r} failed: {exc}",
                                   element_id=element_id) from None
        try:
            return parse_timer_value(self.kind, value, self.source)
        except ValueError as exc:
            raise ExpressionFailed(f"the timer of {element_id!r} is invalid: {exc}",
                                   element_id=element_id) from None

    def first_due(self, now: datetime) -> datetime | None:
        """When a literal (resolved) timer that starts at ``now`` first fires."""
        if self.kind == DATE:
            return self.at
        if self.kind == DURATION and self.duration is not None:
            return _utc(self.duration.add_to(now))
        if self.cycle is not None:
            after = now - timedelta(microseconds=1) if self.cycle.start is not None else now
            return _utc_or_none(_near(self.cycle, after).next_after(after, origin=now))
        return None  # pragma: no cover - the compiler always sets one

    def next_due(self, previous: datetime, fired: int) -> datetime | None:
        """For a cycle that fired ``fired`` times, the last time at ``previous``: the
        next time, or ``None`` when the repetitions are used up.

        A cycle with a start date counts its repetitions from that date, not from the
        firings: armed after some occurrences had passed, it fires only those left. A
        cycle that would run past the calendar (year 9999) ends there.
        """
        if self.cycle is None:
            return None
        cycle = self.cycle
        try:
            if cycle.start is not None:
                return _utc_or_none(_near(cycle, previous).next_after(previous, origin=previous))
            if cycle.repetitions is not None and fired >= cycle.repetitions:
                return None
            return _utc(cycle.period.add_to(previous))
        except ValueError:
            return None

    def last_passed(self, previous: datetime, now: datetime) -> datetime:
        """For a cycle that fell due at ``previous``: its last occurrence not later than
        ``now`` on the same schedule (``previous`` itself when the next one is ahead).

        A cycle whose instance was suspended, or whose worker was down, for many periods
        goes on from here: the occurrences missed meanwhile are skipped, not fired all at
        once (Camunda 7 schedules a repetition after the current time), and the cycle
        keeps its time of day.
        """
        cycle = self.cycle
        if cycle is None or now <= previous:
            return previous
        period = cycle.period
        if not period.years and not period.months:
            return previous + period.span * ((now - previous) // period.span)
        moment = previous
        for _ in range(_MAX_CALENDAR_STEPS):
            try:
                following = period.add_to(moment)
            except ValueError:
                break
            if following > now:
                break
            moment = following
        return moment

    @property
    def text(self) -> str:
        """The literal value in ISO 8601 (for jobs that must remember an evaluated
        cycle)."""
        if self.cycle is not None:
            return str(self.cycle)
        if self.duration is not None:
            return str(self.duration)
        if self.at is not None:
            return self.at.isoformat()
        return self.source


def parse_timer_value(kind: str, value: Any, source: str | None = None) -> TimerDefinition:
    """A literal :class:`TimerDefinition` of ``kind`` from a text or Python value;
    ``ValueError`` when it does not fit.

    A date at the edge of the calendar whose offset moves it out (``9999-12-31T23:00-05:00``
    in UTC) overflows: that is a bad value too, refused when compiling, not a crash of
    whoever compiles it.
    """
    try:
        return _parse_timer_value(kind, value, source)
    except OverflowError:
        raise ValueError(f"{value!r} is out of the range of dates") from None


def _parse_timer_value(kind: str, value: Any, source: str | None) -> TimerDefinition:
    text_source = source if source is not None else str(value)
    if kind == DATE:
        if isinstance(value, datetime):
            moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
            return TimerDefinition(DATE, text_source, at=moment.astimezone(UTC))
        if isinstance(value, date):
            return TimerDefinition(DATE, text_source,
                                   at=datetime.combine(value, time(0), tzinfo=UTC))
        return TimerDefinition(DATE, text_source, at=parse_datetime(_text(value)).astimezone(UTC))
    if kind == DURATION:
        if isinstance(value, timedelta):
            if value < timedelta(0):
                raise ValueError("a timer duration cannot be negative")
            return TimerDefinition(DURATION, text_source, duration=IsoDuration(span=value))
        duration = parse_duration(_text(value))
        if duration.negative:
            raise ValueError("a timer duration cannot be negative")
        return TimerDefinition(DURATION, text_source, duration=duration)
    if kind == CYCLE:
        return TimerDefinition(CYCLE, text_source, cycle=parse_repeating_interval(_text(value)))
    raise ValueError(f"unknown timer kind {kind!r}")


def next_fire(
    timer_definition: TimerDefinition, after: datetime, *, fired: int = 0
) -> datetime | None:
    """When a timer start event fires next, strictly after ``after``; ``None`` when it
    never fires again.

    * ``timeDate``: the date, if it is still ahead (the runtime fires a start event whose
      date passed before its version was published once, when it is published);
    * ``timeDuration``: ``after`` plus the duration (the runtime passes the time the
      definition was deployed);
    * ``timeCycle``: the next occurrence; a cycle without a start date counts from
      ``after`` and stops after its repetitions (``fired`` says how many happened).

    Expressions are evaluated without variables (a start event has none yet).
    """
    if after.tzinfo is None:
        raise ValueError("after must be a timezone-aware datetime")
    definition = timer_definition.resolve(_EMPTY, "start event")
    if definition.kind == DATE:
        return definition.at if definition.at is not None and definition.at > after else None
    if definition.kind == DURATION and definition.duration is not None:
        return _utc(definition.duration.add_to(after))
    if definition.cycle is not None:
        return _utc_or_none(_near(definition.cycle, after).next_after(after, origin=after, fired=fired))
    return None  # pragma: no cover


def _near(cycle: RepeatingInterval, after: datetime) -> RepeatingInterval:
    """``cycle`` restarted at its last occurrence not later than ``after``, its
    repetitions counted down by the occurrences skipped.

    ``RepeatingInterval.next_after`` walks from the start one period at a time and gives
    up after a million steps: ``R/2020-01-01T00:00:00Z/PT1M`` would never fire (and each
    try costs a fraction of a second). A period of fixed length (no years or months) is
    skipped over by division instead; calendar periods cannot reach a million steps.
    """
    period = cycle.period
    if cycle.start is None or period.years or period.months or cycle.start >= after:
        return cycle
    skipped = (after - cycle.start) // period.span
    if cycle.repetitions is not None:
        skipped = min(skipped, cycle.repetitions)
    if skipped <= 0:
        return cycle
    repetitions = None if cycle.repetitions is None else cycle.repetitions - skipped
    return RepeatingInterval(repetitions, period, cycle.start + period.span * skipped)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 text, not {value!r}")
    return value


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _utc_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)
