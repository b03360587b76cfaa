"""Durations derived from a record when it is written: calendar and working seconds.

Working seconds need the business calendar; they are computed when the
timestamps they depend on change, and otherwise kept as stored, so a later
calendar change does not silently rewrite facts that closed under the old one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from services.metrics.facts.records import InstanceRecord, TaskRecord
from services.metrics.worktime.calendar import BusinessCalendar, working_seconds

CalendarSource = Callable[[], Awaitable[BusinessCalendar]]

# measure -> (start field, end field); its working-time twin is named by `working_name`
TASK_SPANS = {
    "duration_seconds": ("created_at", "ended_at"),
    "queue_seconds": ("created_at", "first_action_at"),
    "work_seconds": ("first_action_at", "ended_at"),
}
INSTANCE_SPANS = {"cycle_seconds": ("started_at", "ended_at")}
_WORKED = frozenset({"completed", "returned"})


def working_name(measure: str) -> str:
    return measure.removesuffix("_seconds") + "_working_seconds"


async def task_measures(
    task: TaskRecord, previous: Mapping[str, Any] | None, calendar: CalendarSource
) -> dict[str, float | None]:
    """Durations of a task: only what it has reached (work time once completed or returned)."""
    spans = dict(TASK_SPANS)
    if task.state not in _WORKED:
        spans.pop("work_seconds")
    if task.state == "open":
        spans.pop("duration_seconds")
    values = _times(task)
    return await _measures(values, spans, TASK_SPANS, previous, calendar)


async def instance_measures(
    instance: InstanceRecord, previous: Mapping[str, Any] | None, calendar: CalendarSource
) -> dict[str, float | None]:
    values = {"started_at": instance.started_at, "ended_at": instance.ended_at}
    return await _measures(values, INSTANCE_SPANS, INSTANCE_SPANS, previous, calendar)


def _times(task: TaskRecord) -> dict[str, dt.datetime | None]:
    return {
        "created_at": task.created_at,
        "first_action_at": task.first_action_at,
        "ended_at": task.ended_at,
    }


async def _measures(
    times: Mapping[str, dt.datetime | None],
    reached: Mapping[str, tuple[str, str]],
    every: Mapping[str, tuple[str, str]],
    previous: Mapping[str, Any] | None,
    calendar: CalendarSource,
) -> dict[str, float | None]:
    result: dict[str, float | None] = {}
    for measure in every:
        result[measure] = result[working_name(measure)] = None
    for measure, (start_field, end_field) in reached.items():
        start, end = times[start_field], times[end_field]
        if start is None or end is None:
            continue
        result[measure] = max((end - start).total_seconds(), 0.0)
        unchanged = (
            previous is not None
            and previous[start_field] == start
            and previous[end_field] == end
            and previous[working_name(measure)] is not None
        )
        if unchanged:
            assert previous is not None
            result[working_name(measure)] = previous[working_name(measure)]
        else:
            result[working_name(measure)] = working_seconds(start, end, await calendar())
    return result
