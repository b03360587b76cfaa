"""Engine records of call activities: start the called instance, terminate it, report its end.

The handlers for `instance_completed` / `instance_terminated` run after the core ones
(which this module imports first) and act only for called instances.
"""

from __future__ import annotations

from typing import Any

from bpm_process.engine.graph import CALL_ACTIVITY
from services.runtime.calls.service import (
    CANCELLING,
    child_outcome,
    drop_reports,
    report_later,
    report_to_parent,
    start_child,
    terminate_child,
)
from services.runtime.instances import records as core_records  # noqa: F401 - core handlers run first
from services.runtime.instances.applier import Step, on_record

UNHANDLED_ERROR = "calls.unhandled_error"
REPORTS = "calls.reports"
HAS_CALLS = "calls.has_call_activities"


@on_record("call_activity_started")
async def call_activity_started(step: Step, record: Any) -> None:
    step.followups.append(lambda: start_child(step, record))


@on_record("call_activity_cancelled")
async def call_activity_cancelled(step: Step, record: Any) -> None:
    step.followups.append(lambda: terminate_child(step, record))


@on_record("error_unhandled")
async def error_unhandled(step: Step, record: Any) -> None:
    """The history names the error that ended the instance; a called instance also passes
    its code to its parent's call activity."""
    step.extras[UNHANDLED_ERROR] = (record.error_code, record.message)
    step.history.add(
        "error_unhandled", step.now, actor=step.actor, node_id=record.node_id,
        node_name=step.node_name(record.node_id),
        details={"error_code": record.error_code, "message": record.message},
    )


@on_record("escalation_unhandled")
async def escalation_unhandled(step: Step, record: Any) -> None:
    """A called instance passes an escalation it did not catch to its parent's call
    activity: later, in a job (an interrupting catch there terminates this instance, which
    must first have been saved), with whatever else this step reports after it (its end,
    when the escalation was an end event), in order."""
    row = step.row
    if row.parent_instance_id is None or row.parent_call_id is None:
        return
    reports = step.extras.get(REPORTS)
    if reports is None:
        reports = step.extras[REPORTS] = []
        step.followups.append(lambda: report_later(step, reports))
    reports.append({"kind": "escalation", "code": record.escalation_code, "node_id": record.node_id})


@on_record("instance_completed", "instance_terminated")
async def calls_left_over(step: Step, record: Any) -> None:
    """An ended instance's reports from its children that still wait (parked by an
    incident, or for a resume) are dropped and their incidents closed: nothing can take
    them any more."""
    if calls_anything(step.graph):
        await drop_reports(step, None, "the instance ended")


def calls_anything(graph: Any) -> bool:
    """Whether the process has a call activity (else it has no reports to drop)."""
    found = graph.cache.get(HAS_CALLS)
    if found is None:
        found = graph.cache[HAS_CALLS] = any(node.behavior == CALL_ACTIVITY for node in graph.nodes.values())
    return bool(found)


@on_record("instance_completed", "instance_terminated")
async def called_instance_ended(step: Step, record: Any) -> None:
    row = step.row
    if row.parent_instance_id is None or row.parent_call_id is None:
        return
    if row.id in step.session.info.get(CANCELLING, ()):
        return  # the parent itself ended the call
    outcome = child_outcome(step, record, step.extras.get(UNHANDLED_ERROR))
    reports = step.extras.get(REPORTS)
    if reports is not None:
        reports.append(outcome)  # after this step's escalations, in the same job
        return
    step.followups.append(lambda: report_to_parent(step, outcome))
