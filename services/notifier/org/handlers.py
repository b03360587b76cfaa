"""Handlers of the designer's `org.*` events: they keep the organisation copy up to date.

Events may arrive late or twice; each write keeps the row of the newest event (by the
aggregate's `sequence`, then the event time), so replaying old events changes nothing.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.events.envelope import Event
from bpm_common.events.inbox import Handler
from bpm_common.logging import get_logger
from services.notifier.events import parse_data
from services.notifier.org import repository
from services.notifier.org.schemas import (
    DepartmentDeleted,
    DepartmentUpserted,
    UserDeleted,
    UserUpserted,
)

log = get_logger(__name__)

USER_UPSERTED = "bpm.designer.org.user.upserted"
USER_DELETED = "bpm.designer.org.user.deleted"
DEPARTMENT_UPSERTED = "bpm.designer.org.department.upserted"
DEPARTMENT_DELETED = "bpm.designer.org.department.deleted"


async def on_user_upserted(session: AsyncSession, event: Event) -> None:
    user = parse_data(UserUpserted, event)
    values = user.model_dump()
    values["roles"] = sorted(set(user.roles))
    written = await repository.upsert_user(
        session, values, sequence=event.sequence, event_time=event.time
    )
    _log_outcome(written, "user", user.username, event)


async def on_user_deleted(session: AsyncSession, event: Event) -> None:
    user = parse_data(UserDeleted, event)
    written = await repository.delete_user(
        session, user.username, sequence=event.sequence, event_time=event.time
    )
    _log_outcome(written, "user", user.username, event)


async def on_department_upserted(session: AsyncSession, event: Event) -> None:
    department = parse_data(DepartmentUpserted, event)
    written = await repository.upsert_department(
        session, department.model_dump(), sequence=event.sequence, event_time=event.time
    )
    _log_outcome(written, "department", department.key, event)


async def on_department_deleted(session: AsyncSession, event: Event) -> None:
    department = parse_data(DepartmentDeleted, event)
    written = await repository.delete_department(
        session, department.key, sequence=event.sequence, event_time=event.time
    )
    _log_outcome(written, "department", department.key, event)


def _log_outcome(written: bool, aggregate: str, key: str, event: Event) -> None:
    if not written:
        log.info("org_event_superseded", aggregate=aggregate, key=key, sequence=event.sequence)


HANDLERS: dict[str, Handler] = {
    USER_UPSERTED: on_user_upserted,
    USER_DELETED: on_user_deleted,
    DEPARTMENT_UPSERTED: on_department_upserted,
    DEPARTMENT_DELETED: on_department_deleted,
}
