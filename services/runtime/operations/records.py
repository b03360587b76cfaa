"""Engine records of approval operations turned into history entries and events (see
instances/applier.py): token moves (returns, rejections sent back, administrators'
jumps), added and removed signers, approval decisions."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from services.runtime.instances.applier import Step, on_record

#: why a task was cancelled when its instance returned to an earlier node
RETURNED = "returned"


def _returned_task(step: Step, from_node: str) -> str | None:
    """The task a `token_moved` record returned from, if the move was a return: the
    task the command was about, else the first task cancelled as returned there."""
    cancelled = [
        record.task_id
        for record in step.extras["result"].events
        if record.type == "task_cancelled"
        and record.reason == RETURNED
        and record.node_id == from_node
    ]
    if not cancelled:
        return None
    about = str(step.completed_task["id"]) if step.completed_task else None
    return about if about in cancelled else cancelled[0]


@on_record("token_moved")
async def token_moved(step: Step, record: Any) -> None:
    returned = _returned_task(step, record.from_node)
    target_name = step.node_name(record.to_node)
    if returned is None:
        # a rejected approval sent back by its reject action, or an administrator's jump
        rejected = step.outcome == "reject"
        step.history.add(
            "token_moved",
            step.now,
            actor=step.actor,
            node_id=record.to_node,
            node_name=target_name,
            comment=None if rejected else record.reason,
            details={
                "from_node": record.from_node,
                "to_node": record.to_node,
                "cause": "rejected" if rejected else "moved",
            },
        )
        return
    task = (
        step.completed_task
        if step.completed_task and str(step.completed_task["id"]) == returned
        else None
    )
    name = task["name"] if task else step.node_name(record.from_node)
    step.history.add(
        "task_returned",
        step.now,
        actor=step.actor,
        node_id=record.from_node,
        node_name=name,
        task_id=returned,
        comment=record.reason,
        details={"target_node_id": record.to_node, "target_node_name": target_name},
    )
    step.event(
        "task.returned",
        {
            **step.task_common(returned, record.from_node, name),
            "initiator": step.row.initiator,
            "business_key": step.row.business_key,
            "actor": step.actor,
            "reason": record.reason,
            "target_node_id": record.to_node,
            "target_node_name": target_name,
            "at": step.now,
        },
    )


@on_record("signer_added")
async def signer_added(step: Step, record: Any) -> None:
    step.history.add(
        "signer_added",
        step.now,
        actor=step.actor,
        node_id=record.node_id,
        node_name=step.node_name(record.node_id),
        task_id=record.task_id,
        comment=step.reason,
        details={"signer_id": record.signer_id, "user": record.user, "mode": record.mode},
    )


@on_record("signer_removed")
async def signer_removed(step: Step, record: Any) -> None:
    task_id = _uuid_or_none(record.signer_id) if record.mode != "after" else None
    step.history.add(
        "signer_removed",
        step.now,
        actor=step.actor,
        node_id=record.node_id,
        node_name=step.node_name(record.node_id),
        task_id=task_id,
        comment=step.reason,
        details={"signer_id": record.signer_id, "user": record.user, "mode": record.mode},
    )


@on_record("approval_decided")
async def approval_decided(step: Step, record: Any) -> None:
    step.history.add(
        "approval_decided",
        step.now,
        actor=step.actor,
        node_id=record.node_id,
        node_name=step.node_name(record.node_id),
        details={
            "outcome": record.outcome,
            "approved": record.approved,
            "rejected": record.rejected,
            "instances": record.instances,
        },
    )


def _uuid_or_none(value: str) -> str | None:
    try:
        return str(UUID(value))
    except ValueError:
        return None
