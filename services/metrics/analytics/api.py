"""`/api/v1/analytics`: process summaries for designers, owners and analysts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Path, Query

from bpm_common.auth import ADMIN, DESIGNER, require_roles
from bpm_common.db import SessionDep
from bpm_common.http import api_router
from bpm_common.pagination import DEFAULT_LIMIT, MAX_LIMIT
from services.metrics.analytics import service
from services.metrics.analytics.schemas import ProcessPage, ProcessSummary

ANALYST = "analyst"
PROCESS_OWNER = "process_owner"
READERS = (ADMIN, DESIGNER, ANALYST, PROCESS_OWNER)
MAX_VERSION = 2**31 - 1  # the column is a PostgreSQL integer

router = api_router(
    prefix="/api/v1/analytics", tags=["analytics"], dependencies=[require_roles(*READERS)]
)

IncludeTrial = Annotated[
    bool, Query(description="Count instances of trial publications too (left out by default).")
]


@router.get("/processes", summary="Processes with instances, their versions and counts")
async def list_processes(
    session: SessionDep,
    include_trial: IncludeTrial = False,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> ProcessPage:
    return await service.list_processes(
        session, include_trial=include_trial, limit=limit, cursor=cursor
    )


@router.get("/processes/{key}/summary", summary="Counts and cycle times of one process")
async def process_summary(
    session: SessionDep,
    key: Annotated[
        str, Path(min_length=1, max_length=255, description="The process definition key.")
    ],
    version: Annotated[
        int | None, Query(ge=1, le=MAX_VERSION, description="One version; all if absent.")
    ] = None,
    include_trial: IncludeTrial = False,
    started_from: Annotated[
        dt.datetime | None,
        Query(alias="from", description="Instances started (tasks created) at or after this time."),
    ] = None,
    started_to: Annotated[
        dt.datetime | None,
        Query(alias="to", description="Instances started (tasks created) before this time."),
    ] = None,
) -> ProcessSummary:
    scope = service.summary_scope(
        key,
        version=version,
        include_trial=include_trial,
        started_from=started_from,
        started_to=started_to,
    )
    return await service.summarize(session, scope)
