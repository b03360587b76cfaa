"""Incidents that end: resolved by an administrator's retry, or closed by the runtime
because the work or job they belong to is gone.

Either way the incident's instance records it: an `incident_resolved` history entry
(through the step's history writer, so the hash chain goes on) and a
`bpm.runtime.incident.resolved` event. An incident closed by the runtime has no actor
(as the `incident_created` that opened it); its `cause` says what made it go:

- `job_cancelled`: the engine cancelled its job (a timer whose token moved on),
- `task_ended`: the task whose deadline job it was completed or was cancelled,
- `call_report_dropped`: the called instance's report it was stuck on was dropped
  (the calling instance ended, or cancelled its call activity),
- `work_cancelled`: its work item (an HTTP call, an external task) was cancelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bpm_common.db import driver_connection

if TYPE_CHECKING:
    from services.runtime.instances.applier import Step

JOB_CANCELLED = "job_cancelled"
TASK_ENDED = "task_ended"
CALL_REPORT_DROPPED = "call_report_dropped"
WORK_CANCELLED = "work_cancelled"


def incident_resolved_entry(
    step: Step, incident_id: str, node_id: str | None, details: dict[str, Any], *, actor: str | None,
    reason: str | None, cause: str | None = None,
) -> None:
    """The history entry and event of an incident resolved by `actor` (None: the runtime,
    for `cause`) with `reason`."""
    if cause is not None:
        details = {**details, "cause": cause}
    step.history.add(
        "incident_resolved", step.now, actor=actor, node_id=node_id,
        node_name=step.node_name(node_id), comment=reason, details={"incident_id": incident_id, **details},
    )
    step.event("incident.resolved", {
        **step.instance_common(), "incident_id": incident_id, "node_id": node_id, "actor": actor,
        "reason": reason, **({"cause": cause} if cause is not None else {}), "at": step.now,
    })


#: close the instance's ($1) open incidents that `{which}` picks: resolved now ($2) by
#: nobody, with the resolution $3; plain SQL, since a task's completion runs it (`TASK_JOBS`)
_CLOSE = (
    "UPDATE incidents SET state = 'resolved', resolved_at = $2, resolved_by = NULL, resolution = $3"
    " WHERE instance_id = $1 AND state = 'open' AND {which}"
    " RETURNING id, work_id, job_kind, node_id, created_at"
)
#: `which`: the incidents of the work items or jobs $4
OF_WORK = "work_id = ANY($4::uuid[])"
#: `which`: the incidents of task $4's jobs of the kinds $5
TASK_JOBS = "work_id IN (SELECT id FROM jobs WHERE task_id = $4 AND kind = ANY($5::varchar[]))"


async def close_incidents(step: Step, which: str, args: Sequence[Any], cause: str, reason: str) -> list[str]:
    """Close the open incidents of the step's instance that `which` (`OF_WORK`,
    `TASK_JOBS`, with its `args`) picks, because their work or job is gone (`cause`,
    `reason`): in the step's unit of work, each with its history entry and event.
    Returns the ids of those it closed, oldest first."""
    connection = await driver_connection(step.session)
    rows = await connection.fetch(_CLOSE.format(which=which), step.row.id, step.now, reason, *args)
    closed = sorted(rows, key=lambda row: (row["created_at"], row["id"]))
    for row in closed:
        work_id = str(row["work_id"])
        what = {"job_id": work_id} if row["job_kind"] is not None else {"work_id": work_id}
        incident_resolved_entry(
            step, str(row["id"]), row["node_id"] or None, what, actor=None, reason=reason, cause=cause
        )
    return [str(row["id"]) for row in closed]
