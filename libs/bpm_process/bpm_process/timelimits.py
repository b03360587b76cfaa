"""Time limits of user tasks in working time: ``bpm:timeLimit``, ``bpm:remindBefore``,
``bpm:timeoutAction`` (and ``bpm:timeoutReassignTo``, a rule list, see
:mod:`bpm_process.assignment`).

A time limit is an ISO 8601 duration counted in the organisation's working time:
weeks and days count working weeks and working days (``P2D``: the same working moment
two working days later), the time part counts working hours (``PT4H``: four hours of
working time). Years and months are refused: nobody counts them in working time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

__all__ = [
    "DEFAULT_REMIND_BEFORE",
    "DEFAULT_TIMEOUT_ACTION",
    "TIMEOUT_ACTIONS",
    "WorkingDuration",
    "parse_working_duration",
]

TIMEOUT_ACTIONS = ("escalate", "auto_approve", "auto_reject", "reassign", "none")
"""What an overdue task does (``bpm:timeoutAction``)."""
DEFAULT_TIMEOUT_ACTION = "escalate"
"""The action of a task with ``bpm:timeLimit`` and no ``bpm:timeoutAction``."""
DEFAULT_REMIND_BEFORE = "PT1H"
"""When ``task.due_soon`` is raised for a task with ``bpm:timeLimit``."""

_WORKING = re.compile(
    r"P(?:(?P<weeks>\d{1,4})W)?(?:(?P<days>\d{1,5})D)?"
    r"(?:T(?:(?P<hours>\d{1,6})H)?(?:(?P<minutes>\d{1,8})M)?(?:(?P<seconds>\d{1,10}(?:[.,]\d{1,6})?)S)?)?"
)
_MAX_DAYS = 3660
"""About ten years of working days: far beyond any business limit."""


@dataclass(frozen=True, slots=True)
class WorkingDuration:
    """A duration in working time: whole working weeks and days, plus working time."""

    weeks: int
    days: int
    clock: timedelta
    """The time part (hours, minutes, seconds) as an exact span of working time."""

    def __str__(self) -> str:
        parts = ["P"]
        if self.weeks:
            parts.append(f"{self.weeks}W")
        if self.days:
            parts.append(f"{self.days}D")
        seconds = Decimal(self.clock.days * 86_400 + self.clock.seconds) + Decimal(
            self.clock.microseconds
        ) / Decimal(1_000_000)
        if seconds or len(parts) == 1:
            hours, rest = divmod(seconds, 3600)
            minutes, secs = divmod(rest, 60)
            parts.append("T")
            if hours:
                parts.append(f"{int(hours)}H")
            if minutes:
                parts.append(f"{int(minutes)}M")
            if secs or (not hours and not minutes):
                parts.append(f"{secs.normalize():f}S")
        return "".join(parts)

    def times(self, factor: int) -> WorkingDuration:
        """This duration ``factor`` times over."""
        return WorkingDuration(self.weeks * factor, self.days * factor, self.clock * factor)


def parse_working_duration(text: str) -> WorkingDuration:
    """Parse a working-time duration (``P1D``, ``PT4H``, ``P1DT2H30M``, ``P1W``).

    Raises ``ValueError`` for anything else: years, months, negative or zero durations.
    """
    stripped = text.strip().upper()
    match = _WORKING.fullmatch(stripped)
    if match is None or stripped.endswith(("P", "T")):
        if stripped.lstrip("+-").startswith("P") and (
            "Y" in stripped or "M" in stripped.split("T")[0]
        ):
            raise ValueError(
                f"{text!r}: years and months are not counted in working time; "
                "write working days (P5D) or hours (PT8H)"
            )
        raise ValueError(
            f"{text!r} is not an ISO 8601 duration of working time (e.g. P1D, PT4H or P1DT2H)"
        )
    groups = match.groupdict()
    weeks = int(groups["weeks"] or 0)
    days = int(groups["days"] or 0)
    seconds = Decimal((groups["seconds"] or "0").replace(",", "."))
    clock = timedelta(
        hours=int(groups["hours"] or 0),
        minutes=int(groups["minutes"] or 0),
        seconds=int(seconds),
        microseconds=int((seconds - int(seconds)) * 1_000_000),
    )
    if weeks * 7 + days + clock.days > _MAX_DAYS:
        raise ValueError(f"{text!r} is too long for a time limit (at most ten years)")
    if not weeks and not days and clock <= timedelta(0):
        raise ValueError(f"{text!r}: a time limit must be longer than zero")
    return WorkingDuration(weeks, days, clock)
