"""Handlers of the runtime's instance and task events (docs/events.md).

Each runs inside the consumer's unit of work: it updates the fact table,
appends the event-log entry and, for the first completion of a live instance,
counts its cycle time in Prometheus after the commit. Repeated and late events
change nothing they should not (see `records` for the rules).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.events.envelope import Event
from bpm_common.events.inbox import Handler
from services.metrics.exporter.metrics import observe_cycle_time_after_commit
from services.metrics.facts import parsing, repository
from services.metrics.facts.records import Applied, InstanceRecord


async def on_instance_event(session: AsyncSession, event: Event) -> None:
    reported = parsing.instance_record(event)
    applied = await repository.apply_instance(session, reported)
    await repository.append_log(
        session, parsing.instance_log_entry(event, reported, trial=applied.record.trial)
    )
    cycle_seconds = _newly_known_cycle_time(applied)
    if cycle_seconds is not None:
        observe_cycle_time_after_commit(session, applied.record.definition_key, cycle_seconds)


async def on_task_event(session: AsyncSession, event: Event) -> None:
    reported = parsing.task_record(event)
    applied = await repository.apply_task(session, reported)
    await repository.append_log(
        session, parsing.task_log_entry(event, reported, trial=bool(applied.record.trial))
    )


def _newly_known_cycle_time(applied: Applied[InstanceRecord]) -> float | None:
    """The cycle time of a live instance whose completion this event is the first to record."""
    record, previous = applied.record, applied.previous
    if record.trial or record.state != "completed" or record.cycle_seconds is None:
        return None
    if (
        previous is not None
        and previous.state == "completed"
        and previous.cycle_seconds is not None
    ):
        return None
    return record.cycle_seconds


HANDLERS: dict[str, Handler] = {
    parsing.INSTANCE_STARTED: on_instance_event,
    parsing.INSTANCE_COMPLETED: on_instance_event,
    parsing.INSTANCE_TERMINATED: on_instance_event,
    parsing.TASK_CREATED: on_task_event,
    parsing.TASK_COMPLETED: on_task_event,
    parsing.TASK_CANCELLED: on_task_event,
}
