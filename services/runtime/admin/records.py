"""Engine records of administrators' interventions turned into history entries (see
instances/applier.py): cancelled tokens, skipped nodes, edited variables (with the
values before and after, so an edit can be undone by hand)."""

from __future__ import annotations

from typing import Any

from services.runtime.instances.applier import Step, on_record, values_before, variable_values


@on_record("token_cancelled")
async def token_cancelled(step: Step, record: Any) -> None:
    step.history.add(
        "token_cancelled",
        step.now,
        actor=step.actor,
        node_id=record.node_id,
        node_name=step.node_name(record.node_id),
        comment=record.reason,
        details={"token_id": record.token_id},
    )


@on_record("node_skipped")
async def node_skipped(step: Step, record: Any) -> None:
    step.history.add(
        "node_skipped",
        step.now,
        actor=step.actor,
        node_id=record.node_id,
        node_name=step.node_name(record.node_id),
        comment=record.reason,
        details={"variables": dict(step.submitted),
                 "variables_before": values_before(step, step.submitted)} if step.submitted else None,
    )


@on_record("variables_updated")
async def variables_updated(step: Step, record: Any) -> None:
    before = values_before(step, record.names)
    after = variable_values(step.extras["result"].state, record.names)
    changes = [{"name": name, "before": before[name], "after": after[name]} for name in record.names]
    step.history.add(
        "variables_updated",
        step.now,
        actor=step.actor,
        comment=step.reason,
        details={"changes": changes},
    )
