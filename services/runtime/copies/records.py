"""Engine records of copies: a copy node was passed, or a node with RACI `informed`
people completed (see instances/applier.py)."""

from __future__ import annotations

from typing import Any

from services.runtime.copies.service import send_copies, step_variables
from services.runtime.deadlines.assignment import resolve_rules
from services.runtime.instances import records as core_records  # noqa: F401 - core handlers first
from services.runtime.instances.applier import Step, on_record


@on_record("copy_requested")
async def copy_requested(step: Step, record: Any) -> None:
    found = await resolve_rules(
        step.session,
        record.rules,
        initiator=step.row.initiator,
        variables=step_variables(step),
        expand_roles=True,
    )
    await send_copies(
        step,
        found,
        rules=record.rules,
        kind=record.kind,
        node_id=record.node_id,
        node_name=record.node_name,
        sender=None,
        message=None,
    )
