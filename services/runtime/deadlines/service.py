"""Deadlines of tasks: the due time from `bpm:timeLimit` in working time, and the jobs
that watch it.

A task with a time limit gets two jobs: `deadline_due_soon` at due time minus
`remind_before`, and `deadline_overdue` at the due time (which raises `task.overdue`
and then does the node's `timeout_action`). Escalation repeats as `deadline_escalate`
one time limit (in working time) after the previous level, up the department tree,
at most `MAX_ESCALATION_LEVELS` times. A task with only a vendor `dueDate` gets the
overdue job, with action `none` unless the model names one.

The jobs belong to the task, not to whoever works it: a transfer or delegation keeps
them, completion or cancellation removes them in the same transaction
(`deadlines/records.py`); a returned-to task is a new task with new jobs. A migration
keeps them where the node's deadline rules (`deadline_rules`) stay the same in the new
version; where they changed it recounts the task's deadline from its creation with the
new rules (`recount_deadline`, see `migration/deadlines.py`), unless asked not to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.errors import Unprocessable
from bpm_common.ids import new_id
from bpm_process.engine import ExpressionFailed, TaskSpec
from bpm_process.engine.tasks import UserTaskDefinition
from bpm_process.isotime import IsoDuration, parse_duration
from bpm_process.timelimits import DEFAULT_REMIND_BEFORE, DEFAULT_TIMEOUT_ACTION
from services.runtime.deadlines.repository import CalendarCache, calendar_for, load_calendar
from services.runtime.deadlines.worktime import BusinessCalendar, add_working_time
from services.runtime.instances.applier import Step

DUE_SOON = "deadline_due_soon"
OVERDUE = "deadline_overdue"
ESCALATE = "deadline_escalate"
DEADLINE_JOBS = (DUE_SOON, OVERDUE, ESCALATE)
MAX_ESCALATION_LEVELS = 3
"""Escalation levels at most (level 1 at the due time, then one per time limit)."""
NO_ACTION = "none"
#: `Step.extras` key: the name of the calendar the last task's time limit was counted in
CALENDAR_USED = "deadline_calendar"


async def task_due_at(step: Step, spec: TaskSpec) -> dt.datetime | None:
    """The due time of a new task: its `bpm:timeLimit` in working time from now (in the
    business calendar of the initiator's department, see `calendar_for`), else the
    `dueDate` the engine computed."""
    if spec.time_limit is None:
        return spec.due_at
    calendar = await calendar_for(step.session, step.row.initiator, step.ctx.extras.get("calendars"))
    step.extras[CALENDAR_USED] = calendar.name  # the task's escalations count in it too
    return _count(spec.node_id, step.now, spec.time_limit, calendar)


def _count(node_id: str, start: dt.datetime, limit: str, calendar: BusinessCalendar) -> dt.datetime:
    """`limit` of working time in `calendar` from `start`; 422 naming the node for a
    calendar without any working time within reach."""
    try:
        return add_working_time(start, limit, calendar)
    except ValueError as exc:
        raise Unprocessable(f"the time limit of {node_id!r} cannot be counted: {exc}") from exc


def deadline_jobs(
    task: Mapping[str, Any], spec: TaskSpec, now: dt.datetime, calendar: str | None = None
) -> list[dict[str, Any]]:
    """The job rows that watch a new task's due time (none without one); `calendar`: the
    business calendar its time limit was counted in, which its escalations count in too."""
    due_at = task["due_at"]
    if due_at is None:
        return []
    common = {
        "instance_id": task["instance_id"],
        "node_id": task["node_id"],
        "task_id": task["id"],
    }
    payload = {
        "action": spec.timeout_action or NO_ACTION,
        "time_limit": spec.time_limit,
        "reassign_to": list(spec.timeout_reassign_to),
        "calendar": calendar,
    }
    rows = [{**common, "id": UUID(new_id()), "kind": OVERDUE, "due_at": due_at, "payload": payload}]
    if spec.time_limit and spec.remind_before:
        remind_at = _before(due_at, parse_duration(spec.remind_before))
        if remind_at > now:
            rows.append(
                {
                    **common,
                    "id": UUID(new_id()),
                    "kind": DUE_SOON,
                    "due_at": remind_at,
                    "payload": {},
                }
            )
    return rows


class DeadlineRules(NamedTuple):
    """What a user task node says about its tasks' deadlines, with the defaults applied
    (a `bpm:remindBefore="PT1H"` written out is the same rule as none written): two
    versions of a node whose rules are equal give a task the same deadline."""

    time_limit: str | None
    """`bpm:timeLimit`: the duration in canonical text, or the expression as written."""
    remind_before: str | None
    timeout_action: str | None
    reassign_to: tuple[str, ...]
    due_date: str | None
    """The vendor `dueDate` as written (used without a time limit)."""


NO_DEADLINE = DeadlineRules(None, None, None, (), None)


def deadline_rules(definition: UserTaskDefinition | None) -> DeadlineRules:
    """The deadline rules of a user task's definition (`NO_DEADLINE` for another node)."""
    if definition is None:
        return NO_DEADLINE
    deadline = definition.deadline
    limit = deadline.time_limit
    due_date = definition.due_date.source if definition.due_date is not None else None
    if limit is not None:
        text = limit.fixed if limit.expression is None else limit.source
        return DeadlineRules(
            text,
            deadline.remind_before or DEFAULT_REMIND_BEFORE,
            deadline.timeout_action or DEFAULT_TIMEOUT_ACTION,
            deadline.reassign_to,
            due_date,
        )
    if due_date is None:
        return NO_DEADLINE
    return DeadlineRules(None, None, deadline.timeout_action or NO_ACTION, deadline.reassign_to, due_date)


async def recount_deadline(
    session: AsyncSession,
    definition: UserTaskDefinition | None,
    task: Mapping[str, Any],
    context: Mapping[str, Any],
    *,
    calendar: str | None,
    initiator: str | None,
    cache: CalendarCache | None = None,
) -> tuple[TaskSpec, str | None]:
    """The deadline an open task (`id`, `node_id`, `name`, `created_at`) has under the user
    task `definition` of its node, counted from its creation as `task_due_at` would have
    counted it then: a `TaskSpec` with its due time (None: no deadline) and rules for
    `deadline_jobs`, and the calendar its time limit counts in: `calendar` (the one its
    time limit was counted in before) if known, else the initiator's. Expressions see
    `context` (the variables visible at the task now)."""
    node_id, created_at = task["node_id"], task["created_at"]
    due_at: dt.datetime | None = None
    extras: tuple[Any, ...] = (), None, None, None, ()
    if definition is not None:
        try:
            extras = definition.platform(context, node_id)
            if extras[1] is None and definition.due_date is not None:
                due_at = definition.due_date.resolve(created_at, context, node_id)
        except ExpressionFailed as exc:
            raise Unprocessable(f"the deadline of {node_id!r} cannot be recounted: {exc.message}") from exc
    limit = extras[1]
    used = None
    if limit is not None:
        business = await (
            load_calendar(session, calendar, cache) if calendar else calendar_for(session, initiator, cache)
        )
        due_at = _count(node_id, created_at, limit, business)
        used = business.name
    spec = TaskSpec(
        str(task["id"]), node_id, task["name"], None, (), (), due_at, 0, None, None, *extras
    )
    return spec, used


def escalation_job(job: Mapping[str, Any], level: int, at: dt.datetime) -> dict[str, Any]:
    """The job of the next escalation level of the task a deadline job watches."""
    return {
        "id": UUID(new_id()),
        "kind": ESCALATE,
        "instance_id": job["instance_id"],
        "node_id": job["node_id"],
        "task_id": job["task_id"],
        "due_at": at,
        "payload": {**job["payload"], "level": level},
    }


#: the deadline jobs of a task that closed, queued with the command's writes
#: (`deadlines/records.py`); a job a worker has taken (its row locked) is left to that
#: worker, which deletes it in its own transaction, rather than the two waiting on each
#: other's locks (the worker holds the job and waits for the instance the command holds)
DROP_DEADLINE_JOBS = (
    "DELETE FROM jobs WHERE id IN"
    " (SELECT id FROM jobs WHERE task_id = $1 AND kind = ANY($2::varchar[]) FOR UPDATE SKIP LOCKED)"
)


def _before(moment: dt.datetime, duration: IsoDuration) -> dt.datetime:
    return IsoDuration(
        duration.years, duration.months, duration.span, not duration.negative
    ).add_to(moment)
