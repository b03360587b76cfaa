"""The runtime's events of a unit of work, applied together just before it commits.

The consumer hands the events of a fetched batch to the handlers in one unit of
work. The handlers read each event (one that cannot be read is refused at once)
and queue it here. When the unit of work commits, the queued events are applied in
their order: the rows they touch are read and locked with two statements, the
events change them in memory one after another (`state`), the aggregate rows they
change more than once are read too (a third statement), and every change is
written with one statement (`repository.write`). The result is the one the events
would have had one at a time, in a handful of statements instead of several per
event.

Anything that fails while the events are applied (a withdrawal for an instance not
seen yet, a row another replica inserted meanwhile) fails the commit: the unit of
work is rolled back, and the consumer handles a batch's events again one by one.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import cast

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.db import before_commit, driver_connection
from bpm_common.events.envelope import Event
from bpm_common.events.inbox import PoisonEvent, RetryLater
from services.metrics.exporter.metrics import observe_cycle_time_after_commit
from services.metrics.facts import parsing, repository
from services.metrics.facts.parsing import LogEntry
from services.metrics.facts.records import Applied, InstanceRecord, TaskRecord
from services.metrics.facts.state import FactState
from services.metrics.worktime.calendar import BusinessCalendar
from services.metrics.worktime.service import CalendarCache

_SESSION_KEY = "metrics_pending_facts"


@dataclasses.dataclass(frozen=True, slots=True)
class InstanceEvent:
    """An `instance.*` event as read: its record and log entry (logged with the trial flag of
    the applied record), or only its instance when it is a withdrawal that leaves out the
    process, which is then taken from the instance's row."""

    event: Event
    instance_id: uuid.UUID
    record: InstanceRecord | None
    entry: LogEntry | None


@dataclasses.dataclass(frozen=True, slots=True)
class TaskEvent:
    """A `task.*` event as read: its record and, for the types the log keeps, its log entry
    (logged with the trial flag of the applied record)."""

    record: TaskRecord
    entry: LogEntry | None


Queued = InstanceEvent | TaskEvent


class PendingFacts:
    """The events a unit of work queued, applied when it commits (see the module)."""

    def __init__(self, session: AsyncSession, calendars: CalendarCache) -> None:
        self.session, self.calendars = session, calendars
        self._queued: list[Queued] = []
        self._calendar: BusinessCalendar | None = None

    @classmethod
    async def of(cls, session: AsyncSession, calendars: CalendarCache) -> PendingFacts:
        """The unit of work's queue; the first call begins its transaction (if the consumer
        has not yet) and has the queue applied before the commit."""
        pending = session.info.get(_SESSION_KEY)
        if pending is None:
            await driver_connection(session)
            pending = session.info[_SESSION_KEY] = cls(session, calendars)
            before_commit(session, pending._before_commit)
        return cast(PendingFacts, pending)

    def add(self, queued: Queued) -> None:
        self._queued.append(queued)

    async def _before_commit(self) -> None:
        """Apply the queue on the session's asyncpg connection, inside its transaction."""
        if not self._queued:
            return
        queued, self._queued = self._queued, []
        await self.apply(await driver_connection(self.session), queued)

    async def apply(self, db: asyncpg.Connection, queued: list[Queued]) -> None:
        """Apply the events in their order and write what they changed."""
        instances = await repository.lock_instances(
            db,
            {q.instance_id if isinstance(q, InstanceEvent) else q.record.instance_id for q in queued},
        )
        tasks_of = _department_changes(queued, instances)
        tasks = await repository.lock_tasks(
            db, {q.record.task_id for q in queued if isinstance(q, TaskEvent)}, tasks_of
        )
        state = FactState(instances, tasks, tasks_of, lambda: self._calendar_in_force(db))
        for q in queued:
            if isinstance(q, TaskEvent):
                await _apply_task(state, q)
            else:
                await self._apply_instance(state, q)
        stored = await repository.lock_aggregates(db, state.repeated_aggregate_keys())
        await repository.write(db, state.changes(stored))

    async def _apply_instance(self, state: FactState, q: InstanceEvent) -> None:
        if q.record is None:
            event = _with_process_identity(q.event, q.instance_id, state)
            record = parsing.instance_record(event)
            entry = parsing.instance_log_entry(event, record, trial=False)
        else:
            record, entry = q.record, q.entry
        assert entry is not None
        applied = await state.apply_instance(record)
        state.log(entry, trial=applied.record.trial)
        cycle_seconds = _newly_known_cycle_time(applied)
        if cycle_seconds is not None:
            observe_cycle_time_after_commit(self.session, applied.record.definition_key, cycle_seconds)

    async def _calendar_in_force(self, db: asyncpg.Connection) -> BusinessCalendar:
        """The business calendar, read once per unit of work: its events take effect together,
        and an administrator's change applies from the next unit of work on."""
        if self._calendar is None:
            self._calendar = await self.calendars.current(db)
        return self._calendar


async def _apply_task(state: FactState, q: TaskEvent) -> None:
    applied = await state.apply_task(q.record)
    if q.entry is not None:
        state.log(q.entry, trial=bool(applied.record.trial))


def read_instance_event(event: Event) -> InstanceEvent:
    """Read an `instance.*` event (`PoisonEvent` when it cannot be)."""
    if event.type == parsing.INSTANCE_WITHDRAWN and not (
        event.data.get("definition_key") and event.data.get("definition_version")
    ):
        raw_id = event.data.get("instance_id") or event.subject
        try:
            instance_id = uuid.UUID(str(raw_id))
        except ValueError as exc:
            raise PoisonEvent(f"{event.type} {event.id}: data.instance_id is not a UUID") from exc
        return InstanceEvent(event, instance_id, None, None)
    record = parsing.instance_record(event)
    entry = parsing.instance_log_entry(event, record, trial=False)
    return InstanceEvent(event, record.instance_id, record, entry)


def read_task_event(event: Event) -> TaskEvent:
    """Read a `task.*` event (`PoisonEvent` when it cannot be)."""
    record = parsing.task_record(event)
    entry = parsing.task_log_entry(event, record, trial=False) if parsing.logs(event.type) else None
    return TaskEvent(record, entry)


def _department_changes(queued: list[Queued], stored: dict[uuid.UUID, repository.Row]) -> set[uuid.UUID]:
    """The instances whose department the events may change, so whose tasks must all be read:
    those with an event naming another department than the stored one (a withdrawal that
    leaves out the process is read only later, so its instance counts as well)."""
    changes = set()
    for q in queued:
        if not isinstance(q, InstanceEvent):
            continue
        row = stored.get(q.instance_id)
        department = None if row is None else row["department"]
        if q.record is None or (q.record.department is not None and q.record.department != department):
            changes.add(q.instance_id)
    return changes


def _with_process_identity(event: Event, instance_id: uuid.UUID, state: FactState) -> Event:
    """`instance.withdrawn` may leave out the process key and version: take the known ones."""
    identity = state.identity(instance_id)
    if identity is None:
        raise RetryLater(f"{event.type} for an instance not seen yet")
    key, version = identity
    return dataclasses.replace(
        event, data={**event.data, "definition_key": key, "definition_version": version}
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
