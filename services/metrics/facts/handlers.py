"""Handlers of the runtime's instance and task events and of the designer's publications
(docs/events.md).

The runtime's events update the fact tables (and through them the daily
aggregates) and append to the event log; for the first completion of a live
instance, its cycle time is counted in Prometheus after the commit. A handler
reads its event, refusing one that cannot be read, and queues it in its unit of
work, which applies the events of a consumer batch together when it commits
(`pending`). Repeated and late events change nothing they should not (see
`records` for the rules).
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import io
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.events.envelope import Event
from bpm_common.events.inbox import Handler, PoisonEvent
from services.metrics.facts import parsing, repository
from services.metrics.facts.pending import PendingFacts, read_instance_event, read_task_event
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
        queued = read_instance_event(event)
        (await PendingFacts.of(session, self.calendars)).add(queued)

    async def on_task_event(self, session: AsyncSession, event: Event) -> None:
        queued = read_task_event(event)
        (await PendingFacts.of(session, self.calendars)).add(queued)


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
