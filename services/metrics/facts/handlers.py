"""Handlers of the runtime's instance and task events and of the designer's publications
(docs/events.md).

Each runs inside the consumer's unit of work: it updates the fact table (and
through it the daily aggregates), appends the event-log entry and, for the
first completion of a live instance, counts its cycle time in Prometheus after
the commit. Repeated and late events change nothing they should not (see
`records` for the rules).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import gzip
import io
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.events.envelope import Event
from bpm_common.events.inbox import Handler, PoisonEvent, RetryLater
from services.metrics.exporter.metrics import observe_cycle_time_after_commit
from services.metrics.facts import parsing, repository
from services.metrics.facts.measures import CalendarSource
from services.metrics.facts.records import Applied, InstanceRecord
from services.metrics.worktime.calendar import BusinessCalendar
from services.metrics.worktime.service import CalendarCache

DEFINITION_PUBLISHED = "bpm.designer.definition.published"
MAX_BPMN_BYTES = 20 * 1024 * 1024


class FactHandlers:
    """The event handlers, sharing the business calendar used for working time."""

    def __init__(self, default_timezone: str) -> None:
        self.calendars = CalendarCache(default_timezone)

    def runtime(self) -> dict[str, Handler]:
        instance_events = (
            parsing.INSTANCE_STARTED,
            parsing.INSTANCE_COMPLETED,
            parsing.INSTANCE_TERMINATED,
            parsing.INSTANCE_WITHDRAWN,
        )
        task_events = (
            parsing.TASK_CREATED,
            parsing.TASK_COMPLETED,
            parsing.TASK_CANCELLED,
            parsing.TASK_ASSIGNED,
            parsing.TASK_RETURNED,
            parsing.TASK_OVERDUE,
        )
        return {
            **dict.fromkeys(instance_events, self.on_instance_event),
            **dict.fromkeys(task_events, self.on_task_event),
        }

    def designer(self) -> dict[str, Handler]:
        return {DEFINITION_PUBLISHED: on_definition_published}

    async def on_instance_event(self, session: AsyncSession, event: Event) -> None:
        if event.type == parsing.INSTANCE_WITHDRAWN:
            event = await _with_process_identity(session, event)
        reported = parsing.instance_record(event)
        applied = await repository.apply_instance(session, reported, self._calendar(session))
        await repository.append_log(
            session, parsing.instance_log_entry(event, reported, trial=applied.record.trial)
        )
        cycle_seconds = _newly_known_cycle_time(applied)
        if cycle_seconds is not None:
            observe_cycle_time_after_commit(session, applied.record.definition_key, cycle_seconds)

    async def on_task_event(self, session: AsyncSession, event: Event) -> None:
        reported = parsing.task_record(event)
        applied = await repository.apply_task(session, reported, self._calendar(session))
        if parsing.logs(event.type):
            await repository.append_log(
                session, parsing.task_log_entry(event, reported, trial=bool(applied.record.trial))
            )

    def _calendar(self, session: AsyncSession) -> CalendarSource:
        async def read() -> BusinessCalendar:
            return await self.calendars.current(session)

        return read


async def _with_process_identity(session: AsyncSession, event: Event) -> Event:
    """`instance.withdrawn` may leave out the process key and version: take the known ones."""
    if event.data.get("definition_key") and event.data.get("definition_version"):
        return event
    raw_id = event.data.get("instance_id") or event.subject
    try:
        instance_id = uuid.UUID(str(raw_id))
    except ValueError as exc:
        raise PoisonEvent(f"{event.type} {event.id}: data.instance_id is not a UUID") from exc
    identity = await repository.instance_identity(session, instance_id)
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


async def on_definition_published(session: AsyncSession, event: Event) -> None:
    """Keep the published BPMN: the model a what-if analysis starts from."""
    d = event.data
    try:
        values = {
            "definition_key": str(d["key"]),
            "definition_version": int(d["version"]),
            "definition_id": uuid.UUID(str(d["id"])),
            "name": d.get("name"),
            "status": str(d.get("status") or "published"),
            "bpmn": _bpmn(str(d["bpmn_gzip_b64"])),
            "published_at": _time(d.get("published_at")),
            "last_sequence": event.sequence,
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise PoisonEvent(f"{event.type} {event.id}: {exc!r}") from exc
    await repository.save_model(session, values)


def _bpmn(encoded: str) -> bytes:
    try:
        raw = base64.b64decode(encoded, validate=True)
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
            bpmn = f.read(MAX_BPMN_BYTES + 1)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"no readable BPMN: {exc}") from exc
    if len(bpmn) > MAX_BPMN_BYTES:
        raise ValueError("the BPMN is too large")
    return bpmn


def _time(value: object) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
