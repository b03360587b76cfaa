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

from bpm_process.expressions import Expression, ExpressionError
from bpm_process.isotime import (
    IsoDuration,
    RepeatingInterval,
    parse_datetime,
    parse_duration,
    parse_repeating_interval,
)
from services.runtime.engine.errors import ExpressionFailed

__all__ = ["CYCLE", "DATE", "DURATION", "TimerDefinition", "next_fire", "parse_timer_value"]

DATE = "date"
DURATION = "duration"
CYCLE = "cycle"

_EMPTY: Mapping[str, Any] = {}


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
            return _utc_or_none(self.cycle.next_after(
                now - timedelta(microseconds=1) if self.cycle.start is not None else now,
                origin=now))
        return None  # pragma: no cover - the compiler always sets one

    def next_due(self, previous: datetime, fired: int) -> datetime | None:
        """For a cycle that fired ``fired`` times, the last time at ``previous``: the
        next time, or ``None`` when the repetitions are used up."""
        if self.cycle is None:
            return None
        cycle = self.cycle
        if cycle.repetitions is not None and fired >= cycle.repetitions:
            return None
        return _utc(cycle.period.add_to(previous))

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
    ``ValueError`` when it does not fit."""
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

    * ``timeDate``: the date, if it is still ahead;
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
        return _utc_or_none(definition.cycle.next_after(after, origin=after, fired=fired))
    return None  # pragma: no cover


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 text, not {value!r}")
    return value


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _utc_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)
