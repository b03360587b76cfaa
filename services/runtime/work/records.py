"""Engine records of automated work turned into work items, incidents, history and events.

Request headers of the HTTP connector may carry credentials: they are stored on the
work item (the connector needs them) but never written to the history or to events.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert

from bpm_common import jsonutil
from bpm_common.ids import new_id
from services.runtime.instances import records as core_records  # noqa: F401 - core handlers run first
from services.runtime.instances.applier import Step, on_record, variables_details
from services.runtime.work.incidents import OF_WORK, WORK_CANCELLED, close_incidents, incident_resolved_entry
from services.runtime.work.models import (
    CANCELLED,
    COMPLETED,
    INCIDENT,
    OPEN,
    incidents,
    work_items,
)
from services.runtime.work.wakeup import EXTERNAL_WORK, HTTP_WORK, wakeup

MAX_ERROR_CHARS = 4000


def _clipped(message: str | None) -> str | None:
    return message[:MAX_ERROR_CHARS] if message else None


@on_record("work_created")
async def work_created(step: Step, record: Any) -> None:
    """A new work item, or (after an incident was retried) the same item handed out again."""
    row = step.row
    values: dict[str, Any] = {
        "instance_id": row.id,
        "definition_key": row.definition_key,
        "business_key": row.business_key,
        "node_id": record.node_id,
        "node_name": record.node_name,
        "kind": record.kind,
        "topic": record.topic,
        "request": jsonutil.jsonable(record.request) if record.request is not None else None,
        "variables": jsonutil.jsonable(record.variables or {}),
        "headers": jsonutil.jsonable(record.headers or {}),
        "state": OPEN,
        "retries_left": record.retries,
        "retry_backoff": record.retry_backoff,
        "timeout": record.timeout,
        "priority": record.priority or 0,
        "available_at": step.now,
        "lock_owner": None,
        "locked_until": None,
        "attempts": 0,
        "ended_at": None,
    }
    stmt = insert(work_items).values(id=UUID(record.work_id), created_at=step.now, **values)
    await step.session.execute(stmt.on_conflict_do_update(index_elements=[work_items.c.id], set_=values))
    step.history.add(
        "work_created", step.now, node_id=record.node_id, node_name=record.node_name,
        details={"work_id": record.work_id, "kind": record.kind, "topic": record.topic, "retries": record.retries},
    )
    step.count_after_commit(wakeup(step.ctx, HTTP_WORK if record.kind == "http" else EXTERNAL_WORK).notify)


@on_record("work_completed")
async def work_completed(step: Step, record: Any) -> None:
    await step.session.execute(
        update(work_items)
        .where(work_items.c.id == UUID(record.work_id))
        .values(state=COMPLETED, ended_at=step.now, lock_owner=None, locked_until=None, last_error=None)
    )
    step.history.add(
        "work_completed", step.now, actor=step.actor, node_id=record.node_id,
        node_name=step.node_name(record.node_id), details={"work_id": record.work_id, **variables_details(step)},
    )


@on_record("work_failed")
async def work_failed(step: Step, record: Any) -> None:
    """With retries left the item is offered again at `retry_at`; without, an incident follows."""
    values: dict[str, Any] = {
        "retries_left": record.retries_left,
        "last_error": _clipped(record.error_message),
        "lock_owner": None,
        "locked_until": None,
    }
    if record.retries_left > 0:
        values.update(state=OPEN, available_at=record.retry_at or step.now)
    else:
        values.update(state=INCIDENT)
    await step.session.execute(update(work_items).where(work_items.c.id == UUID(record.work_id)).values(**values))
    step.history.add(
        "work_failed", step.now, actor=step.actor, node_id=record.node_id, node_name=step.node_name(record.node_id),
        details={
            "work_id": record.work_id, "error": _clipped(record.error_message), "retries_left": record.retries_left,
        },
    )


@on_record("work_cancelled")
async def work_cancelled(step: Step, record: Any) -> None:
    await step.session.execute(
        update(work_items)
        .where(work_items.c.id == UUID(record.work_id))
        .values(state=CANCELLED, ended_at=step.now, lock_owner=None, locked_until=None)
    )
    step.history.add(
        "work_cancelled", step.now, actor=step.actor, node_id=record.node_id,
        node_name=step.node_name(record.node_id), details={"work_id": record.work_id, "reason": record.reason},
    )
    await close_incidents(step, OF_WORK, [[UUID(record.work_id)]], WORK_CANCELLED, "the work was cancelled")


@on_record("incident_created")
async def incident_created(step: Step, record: Any) -> None:
    await open_incident(step, record.node_id, UUID(record.work_id), _clipped(record.message),
                        {"work_id": record.work_id})


async def open_incident(step: Step, node_id: str | None, work_id: UUID, message: str | None,
                        details: dict[str, Any], job_kind: str | None = None) -> str:
    """An open incident of the work item (or, with `job_kind`, the job) `work_id`, in the
    instance's history and events; its id."""
    incident_id = new_id()
    name = step.node_name(node_id)
    await step.session.execute(
        insert(incidents).values(
            id=UUID(incident_id), instance_id=step.row.id, work_id=work_id, job_kind=job_kind,
            definition_key=step.row.definition_key, node_id=node_id or "", node_name=name,
            message=message, state="open", created_at=step.now,
        )
    )
    step.history.add(
        "incident_created", step.now, node_id=node_id, node_name=name,
        details={"incident_id": incident_id, **details, "message": message},
    )
    step.event("incident.created", {
        **step.instance_common(), "incident_id": incident_id, "node_id": node_id, "message": message, "at": step.now,
    })
    return incident_id


@on_record("incident_resolved")
async def incident_resolved(step: Step, record: Any) -> None:
    resolved = (
        await step.session.execute(
            update(incidents)
            .where(incidents.c.work_id == UUID(record.work_id), incidents.c.state == "open")
            .values(state="resolved", resolved_at=step.now, resolved_by=step.actor, resolution=step.reason)
            .returning(incidents.c.id)
        )
    ).scalars().all()
    for incident_id in resolved:
        incident_resolved_entry(step, str(incident_id), record.node_id, {"work_id": record.work_id},
                                actor=step.actor, reason=step.reason)
