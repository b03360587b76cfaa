"""Engine records of messages and signals: thrown ones become delivery jobs, caught ones history.

A thrown message or signal is delivered by a job written in the throwing command's
unit of work: it cannot reach anyone before that command committed, and it is not
lost once it did.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from bpm_common import jsonutil
from bpm_common.ids import new_id
from services.runtime.instances import records as core_records  # noqa: F401 - core handlers run first
from services.runtime.instances.applier import Step, on_record, variables_details
from services.runtime.jobs.worker import schedule
from services.runtime.messages import starts  # noqa: F401 - registers the timer start job handler
from services.runtime.messages.delivery import DELIVER_MESSAGE, DELIVER_SIGNAL


def _wake_jobs(step: Step) -> None:
    runner = step.ctx.extras.get("jobs")
    if runner is not None:
        step.count_after_commit(runner.wake)


async def _deliver_later(step: Step, kind: str, node_id: str, payload: dict[str, Any]) -> None:
    await schedule(step.session, {
        "id": UUID(new_id()), "kind": kind, "instance_id": step.row.id, "definition_id": step.row.definition_id,
        "node_id": node_id, "due_at": step.now - dt.timedelta(microseconds=1),
        "payload": jsonutil.jsonable(payload),
    })
    _wake_jobs(step)


@on_record("message_thrown")
async def message_thrown(step: Step, record: Any) -> None:
    await _deliver_later(step, DELIVER_MESSAGE, record.node_id, {
        "name": record.name, "correlation_key": record.correlation_key, "variables": record.variables,
    })
    step.history.add(
        "message_sent", step.now, node_id=record.node_id, node_name=step.node_name(record.node_id),
        details={"name": record.name, "correlation_key": record.correlation_key},
    )


@on_record("signal_thrown")
async def signal_thrown(step: Step, record: Any) -> None:
    # the catches this step itself opened were not waiting when the signal was thrown (a
    # process that throws a signal and then waits for it does not catch its own)
    opened = [sub.id for sub in step.extras["result"].subscriptions_opened if sub.kind == "signal"]
    await _deliver_later(step, DELIVER_SIGNAL, record.node_id, {
        "name": record.name, "variables": record.variables, "excluded": opened,
    })
    step.history.add(
        "signal_sent", step.now, node_id=record.node_id, node_name=step.node_name(record.node_id),
        details={"name": record.name},
    )


@on_record("event_triggered")
async def event_triggered(step: Step, record: Any) -> None:
    if record.trigger not in ("message", "signal"):
        return
    step.history.add(
        f"{record.trigger}_received", step.now, actor=step.actor, node_id=record.node_id,
        node_name=step.node_name(record.node_id), details={"name": record.name, **variables_details(step)},
    )
