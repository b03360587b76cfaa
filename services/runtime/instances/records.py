"""How the core engine records become task rows, history entries and events."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prometheus_client import Counter

from bpm_common import jsonutil
from services.runtime.deadlines.assignment import task_people
from services.runtime.deadlines.service import task_due_at
from services.runtime.instances.applier import Step, on_record, variables_details

INSTANCES_STARTED = Counter("bpm_process_instances_started", "Process instances started", ["process"])
INSTANCES_COMPLETED = Counter("bpm_process_instances_completed", "Process instances completed", ["process"])
INSTANCES_TERMINATED = Counter("bpm_process_instances_terminated", "Process instances terminated", ["process"])
TASKS_COMPLETED = Counter("bpm_tasks_completed", "User tasks completed", ["process"])
TASKS_CREATED = Counter("bpm_tasks_created", "User tasks created", ["process"])

# run by every completion: plain SQL queued with the command's other writes (Step.writes)
_COMPLETE_TASK = (
    "UPDATE tasks SET state = 'completed', completed_at = $2, completed_by = $3, comment = $4, outcome = $5"
    " WHERE id = $1"
)
_CANCEL_TASK = "UPDATE tasks SET state = 'cancelled', completed_at = $2 WHERE id = $1"


@on_record("task_created")
async def task_created(step: Step, record: Any) -> None:
    spec = record.task
    row = step.row
    people = await task_people(step, spec)  # bpm:assignment rules resolved against the org copy
    due_at = await task_due_at(step, spec)  # bpm:timeLimit counted in working time
    step.new_tasks.append(
        {
            "id": UUID(spec.id),
            "instance_id": row.id,
            "definition_key": row.definition_key,
            "definition_version": row.definition_version,
            "node_id": spec.node_id,
            "name": spec.name,
            "state": "open",
            "assignee": people.assignee,
            "candidate_users": people.candidate_users,
            "candidate_roles": people.candidate_roles,
            "due_at": due_at,
            "time_limit": spec.time_limit,
            "priority": spec.priority,
            "form_key": spec.form_key,
            "documentation": spec.documentation,
            "created_at": step.now,
        }
    )
    step.history.add(
        "task_created", step.now, node_id=spec.node_id, node_name=spec.name, task_id=spec.id,
        details={
            "assignee": people.assignee,
            "candidate_users": people.candidate_users,
            "candidate_roles": people.candidate_roles,
            "due_at": due_at,
        },
    )
    people.record_unresolved(step, spec)
    step.event("task.created", {
        **step.task_common(spec.id, spec.node_id, spec.name),
        "assignee": people.assignee,
        "candidate_users": people.candidate_users,
        "candidate_roles": people.candidate_roles,
        "due_at": due_at,
        "created_at": step.now,
        "initiator": row.initiator,
        "business_key": row.business_key,
    })
    step.count_after_commit(TASKS_CREATED.labels(row.definition_key).inc)


@on_record("task_completed")
async def task_completed(step: Step, record: Any) -> None:
    done = step.completed_task if step.completed_task and str(step.completed_task["id"]) == record.task_id else None
    comment = step.comment if done else None
    submitted = dict(step.submitted) if done and step.submitted else None
    await step.writes.change(
        "tasks", _COMPLETE_TASK, UUID(record.task_id), step.now, record.actor, comment,
        jsonutil.dumps({"outcome": record.outcome, "variables": submitted or {}}),
    )
    name = done["name"] if done else step.node_name(record.node_id)
    details: dict[str, Any] = {}
    if record.outcome:
        details["outcome"] = record.outcome
    if submitted:
        details.update(variables_details(step))  # with what the completion overwrote
    step.history.add(
        "task_completed", step.now, actor=record.actor, node_id=record.node_id, node_name=name,
        task_id=record.task_id, comment=comment, details=details or None,
    )
    step.event("task.completed", {
        **step.task_common(record.task_id, record.node_id, name),
        "actor": record.actor,
        "outcome": record.outcome,
        "created_at": done["created_at"] if done else None,
        "completed_at": step.now,
        "comment": comment,
    })
    step.count_after_commit(TASKS_COMPLETED.labels(step.row.definition_key).inc)


@on_record("task_cancelled")
async def task_cancelled(step: Step, record: Any) -> None:
    task_id = UUID(record.task_id)
    pending = next((task for task in step.new_tasks if task["id"] == task_id), None)
    if pending is not None:  # made by this same command (then interrupted): written cancelled
        pending.update(state="cancelled", completed_at=step.now)
    else:
        await step.writes.change("tasks", _CANCEL_TASK, task_id, step.now)
    name = step.node_name(record.node_id)
    step.history.add(
        "task_cancelled", step.now, actor=step.actor, node_id=record.node_id, node_name=name,
        task_id=record.task_id, details={"reason": record.reason},
    )
    step.event("task.cancelled", {
        **step.task_common(record.task_id, record.node_id, name),
        "reason": record.reason,
        "cancelled_at": step.now,
    })


@on_record("activity_completed")
async def activity_completed(step: Step, record: Any) -> None:
    if record.node_kind != "userTask":
        step.history.add(
            "activity_completed", step.now, node_id=record.node_id, node_name=record.node_name,
            details={"kind": record.node_kind},
        )


def _ending(step: Step) -> dict[str, Any]:
    row = step.row
    return {
        **step.instance_common(),
        "started_at": row.started_at,
        "ended_at": step.now,
        "duration_seconds": (step.now - row.started_at).total_seconds(),
    }


@on_record("instance_completed")
async def instance_completed(step: Step, record: Any) -> None:
    result = step.extras["result"]
    rejected = result.result == "rejected"
    step.history.add("instance_completed", step.now, details={"result": "rejected"} if rejected else None)
    step.event("instance.completed", {
        **_ending(step),
        "result": "rejected" if rejected else "approved",
        "satisfaction": result.state.variables.get("satisfaction"),
    })
    step.count_after_commit(INSTANCES_COMPLETED.labels(step.row.definition_key).inc)


@on_record("instance_rejected")
async def instance_rejected(step: Step, record: Any) -> None:
    step.history.add("instance_rejected", step.now, actor=step.actor, node_id=record.node_id,
                     node_name=step.node_name(record.node_id))


@on_record("instance_withdrawn")
async def instance_withdrawn(step: Step, record: Any) -> None:
    step.history.add("instance_withdrawn", step.now, actor=step.actor, comment=record.reason)
    step.event("instance.withdrawn", {**_ending(step), "actor": step.actor, "reason": record.reason})


@on_record("instance_terminated")
async def instance_terminated(step: Step, record: Any) -> None:
    if record.reason == "withdrawn":
        return  # told as instance.withdrawn
    step.history.add(
        "instance_terminated", step.now, actor=step.actor, node_id=record.node_id,
        node_name=step.node_name(record.node_id), comment=step.reason, details={"reason": record.reason},
    )
    step.event("instance.terminated", {**_ending(step), "actor": step.actor, "reason": step.reason or record.reason})
    step.count_after_commit(INSTANCES_TERMINATED.labels(step.row.definition_key).inc)
