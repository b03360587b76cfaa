"""`/api/v1/analytics/calendar`: the business calendar behind working-time figures."""

from __future__ import annotations

from fastapi import Request

from bpm_common.auth import ADMIN, Principal, require_roles
from bpm_common.db import SessionDep
from bpm_common.http import api_router
from services.metrics.roles import READERS
from services.metrics.worktime import service
from services.metrics.worktime.schemas import CalendarIn, CalendarOut

router = api_router(prefix="/api/v1/analytics/calendar", tags=["calendar"])


def _timezone(request: Request) -> str:
    return request.app.state.settings.timezone


@router.get(
    "",
    summary="The business calendar (working hours, holidays) used for working time",
    dependencies=[require_roles(*READERS)],
)
async def get_calendar(session: SessionDep, request: Request) -> CalendarOut:
    return await service.get_calendar(session, _timezone(request))


@router.put(
    "",
    summary="Replace the business calendar (administrators)",
    description="Working durations of tasks and instances that end afterwards use the new "
    "calendar; durations already recorded keep the calendar they were measured with.",
)
async def put_calendar(
    session: SessionDep,
    body: CalendarIn,
    principal: Principal = require_roles(ADMIN, allow_system=False),
) -> CalendarOut:
    return await service.put_calendar(session, body, principal.username)
