"""The deadline jobs: due soon, overdue (with the node's timeout action), escalation.

Each runs in the job's transaction: it takes the instance lock, records history and
events in the instance's chain (`operations.actions.instance_action`), and deletes or
reschedules its own job there. A job whose task closed or whose instance ended is
dropped; a suspended instance's job waits and is looked at again later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.app import ServiceContext
from bpm_common.errors import DomainError, NotFound
from bpm_common.logging import get_logger
from bpm_process.engine import InstanceState, complete_task
from services.runtime.deadlines.assignment import (
    FALLBACK_ROLE,
    managers_above,
    resolve_rules,
    role_holders,
)
from services.runtime.deadlines.repository import calendar_for, load_calendar
from services.runtime.deadlines.service import (
    DUE_SOON,
    ESCALATE,
    MAX_ESCALATION_LEVELS,
    OVERDUE,
    escalation_job,
)
from services.runtime.deadlines.worktime import add_working_time
from services.runtime.instances.applier import Step
from services.runtime.instances.service import InstanceCommands
from services.runtime.jobs.worker import SUSPENDED_RECHECK, delete_job, hold_job, job_handler, schedule
from services.runtime.operations.actions import instance_action, task_event_data
from services.runtime.tasks.models import tasks

log = get_logger(__name__)
SYSTEM = "system"
OUTCOMES = {"auto_approve": "approve", "auto_reject": "reject"}
COMMENTS = {
    "auto_approve": "approved automatically: the time limit passed",
    "auto_reject": "rejected automatically: the time limit passed",
}
REASON = "the time limit passed"


@job_handler(DUE_SOON)
async def due_soon(session: AsyncSession, ctx: ServiceContext, job: dict[str, Any]) -> None:
    task = await _take(session, ctx, job)
    if task is None:
        return
    if task["due_at"] is not None and job["due_at"] >= task["due_at"]:
        return  # held back past the due time (a suspension): "due soon" would come too late
    async with instance_action(
        session, ctx, task["instance_id"], actor=SYSTEM, allow_suspended=True
    ) as step:
        step.history.add(
            "task_due_soon",
            step.now,
            actor=SYSTEM,
            node_id=task["node_id"],
            node_name=task["name"],
            task_id=str(task["id"]),
            details={"due_at": task["due_at"]},
        )
        step.event("task.due_soon", {**_people(step, task), "at": step.now})


@job_handler(OVERDUE)
async def overdue(session: AsyncSession, ctx: ServiceContext, job: dict[str, Any]) -> None:
    """`task.overdue` with the node's action, then the action: escalate, complete as
    approved or rejected, or hand the task to `timeout_reassign_to`."""
    task = await _take(session, ctx, job)
    if task is None:
        return
    action = job["payload"].get("action") or "none"
    async with instance_action(
        session, ctx, task["instance_id"], actor=SYSTEM, allow_suspended=True
    ) as step:
        step.history.add(
            "task_overdue",
            step.now,
            actor=SYSTEM,
            node_id=task["node_id"],
            node_name=task["name"],
            task_id=str(task["id"]),
            details={"due_at": task["due_at"], "action": action},
        )
        step.event("task.overdue", {**_people(step, task), "at": step.now, "action": action})
        if action == "escalate":
            # level 1, or the level after those a task migrated with a new deadline had
            # already reached (`migration/deadlines.py`): nobody is told twice
            reached = int(task["escalation_level"] or 0)
            if reached < MAX_ESCALATION_LEVELS:
                await _escalate(step, task, job, level=reached + 1)
        elif action == "reassign":
            await _reassign(step, task, job["payload"].get("reassign_to") or [])
    if action in OUTCOMES:
        await _decide(session, ctx, task, action)


@job_handler(ESCALATE)
async def escalate_further(session: AsyncSession, ctx: ServiceContext, job: dict[str, Any]) -> None:
    task = await _take(session, ctx, job)
    if task is None:
        return
    async with instance_action(
        session, ctx, task["instance_id"], actor=SYSTEM, allow_suspended=True
    ) as step:
        await _escalate(step, task, job, level=int(job["payload"].get("level") or 2))


# -- the actions ---------------------------------------------------------------------------


async def _escalate(
    step: Step, task: Mapping[str, Any], job: Mapping[str, Any], *, level: int
) -> None:
    """Tell the people of the task, the initiator and the manager `level` levels above
    the assignee (above the initiator for a task offered to candidates); schedule the
    next level one time limit later while there is a manager further up. A delegated
    task (委派) is still its owner's: the owner is told too, and the managers are the
    owner's, not the delegate's."""
    people = list(task["candidate_users"] or []) if not task["assignee"] else [task["assignee"]]
    if not task["assignee"]:
        people += await role_holders(
            step.session, [r for r in task["candidate_roles"] or [] if r != FALLBACK_ROLE]
        )
    if task["owner"]:
        people.append(task["owner"])
    above = task["owner"] or task["assignee"] or step.row.initiator
    managers = await managers_above(step.session, above) if above else []
    manager = managers[level - 1] if len(managers) >= level else None
    escalated_to = _unique([*people, step.row.initiator, manager])
    await step.session.execute(
        update(tasks).where(tasks.c.id == task["id"]).values(escalation_level=level)
    )
    step.history.add(
        "task_escalated",
        step.now,
        actor=SYSTEM,
        node_id=task["node_id"],
        node_name=task["name"],
        task_id=str(task["id"]),
        details={"level": level, "escalated_to": escalated_to},
    )
    step.event(
        "task.escalated",
        {
            **task_event_data(step, task),
            "assignee": task["assignee"],
            "escalated_to": escalated_to,
            "due_at": task["due_at"],
            "at": step.now,
            "level": level,
        },
    )
    limit = job["payload"].get("time_limit")
    if limit and level < MAX_ESCALATION_LEVELS and len(managers) > level:
        cache = step.ctx.extras.get("calendars")
        name = job["payload"].get("calendar")  # the calendar the task's time limit was counted in
        calendar = (await load_calendar(step.session, name, cache) if name
                    else await calendar_for(step.session, step.row.initiator, cache))
        await schedule(
            step.session,
            escalation_job(job, level + 1, add_working_time(job["due_at"], limit, calendar)),
        )


async def _reassign(step: Step, task: Mapping[str, Any], rules: list[str]) -> None:
    """Hand the task to the people `bpm:timeoutReassignTo` names: one user becomes the
    assignee, several (or roles) the candidates; nobody: the role `admin`."""
    variables = (
        InstanceState.from_json(step.row.engine_state).variables if step.row.engine_state else {}
    )
    found = await resolve_rules(
        step.session, rules, initiator=step.row.initiator, variables=variables
    )
    users, roles = found.users, found.roles
    if not users and not roles:
        roles = [FALLBACK_ROLE]
    assignee = users[0] if len(users) == 1 and not roles else None
    await step.session.execute(
        update(tasks)
        .where(tasks.c.id == task["id"])
        .values(
            assignee=assignee,
            candidate_users=[] if assignee else users,
            candidate_roles=roles,
            owner=None,  # a delegation ends: the task is someone else's now
            delegation_state=None,
        )
    )
    for rule, reason in found.unresolved:
        step.history.add(
            "assignment_unresolved",
            step.now,
            actor=SYSTEM,
            node_id=task["node_id"],
            node_name=task["name"],
            task_id=str(task["id"]),
            details={"rule": rule, "reason": reason},
        )
    step.history.add(
        "task_reassigned_on_timeout",
        step.now,
        actor=SYSTEM,
        node_id=task["node_id"],
        node_name=task["name"],
        task_id=str(task["id"]),
        comment=REASON,
        details={
            "assignee": assignee,
            "previous_assignee": task["assignee"],
            "candidate_users": [] if assignee else users,
            "candidate_roles": roles,
            "previous_candidate_users": list(task["candidate_users"] or []),
            "previous_candidate_roles": list(task["candidate_roles"] or []),
            "previous_owner": task["owner"],
        },
    )
    step.event(
        "task.assigned",
        {
            **task_event_data(step, task),
            "assignee": assignee,
            "previous_assignee": task["assignee"],
            "owner": None,
            "candidate_users": [] if assignee else users,
            "candidate_roles": roles,
            "kind": "escalation",
            "actor": SYSTEM,
            "reason": REASON,
            "at": step.now,
        },
    )


async def _decide(
    session: AsyncSession, ctx: ServiceContext, task: Mapping[str, Any], action: str
) -> None:
    """Complete the approval as the system, with the outcome of `auto_approve` or
    `auto_reject`; a task that closed meanwhile is left alone."""
    outcome = OUTCOMES[action]
    try:
        async with session.begin_nested():
            await InstanceCommands(session, ctx).execute(
                task["instance_id"],
                lambda graph, state, now, nid: complete_task(
                    graph,
                    state,
                    str(task["id"]),
                    actor=SYSTEM,
                    outcome=outcome,
                    now=now,
                    new_id=nid,
                ),
                actor=SYSTEM,
                comment=COMMENTS[action],
                completed_task=task,
                submitted={},
                outcome=outcome,
                recheck_task=task["id"],
                allow_suspended=True,
            )
    except DomainError as exc:
        if exc.status not in (404, 409):
            raise
        log.info("deadline_action_obsolete", task_id=str(task["id"]), reason=exc.detail)


# -- helpers -------------------------------------------------------------------------------


async def _take(session: AsyncSession, ctx: ServiceContext, job: Mapping[str, Any]) -> dict[str, Any] | None:
    """The open task a deadline job watches, with the job deleted; None when the job is
    obsolete (deleted too) or its instance is suspended (the job waits).

    The instance is locked before the task is read: every command that changes a task
    holds that lock, so a completion, transfer or suspension that commits while this job
    waits is seen here, and the action never lands on a task that closed meanwhile.
    """
    instance = None
    if job["instance_id"] is not None:
        try:
            instance = await InstanceCommands(session, ctx).lock(job["instance_id"])
        except NotFound:
            instance = None
    task = None
    if instance is not None:
        task = (
            (await session.execute(select(tasks).where(tasks.c.id == job["task_id"])))
            .mappings()
            .first()
        )
    if task is None or task["state"] != "open" or instance is None or instance.state != "active":
        await delete_job(session, job["id"])
        return None
    if instance.suspended:
        await hold_job(session, job["id"], max(job["due_at"], dt.datetime.now(dt.UTC)) + SUSPENDED_RECHECK)
        return None
    await delete_job(session, job["id"])
    return dict(task)


def _people(step: Step, task: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **task_event_data(step, task),
        "assignee": task["assignee"],
        "candidate_users": list(task["candidate_users"] or []),
        "candidate_roles": list(task["candidate_roles"] or []),
        "due_at": task["due_at"],
    }


def _unique(names: list[str | None]) -> list[str]:
    result: list[str] = []
    for name in names:
        if name and name not in result:
            result.append(name)
    return result
