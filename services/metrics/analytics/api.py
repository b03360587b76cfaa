"""`/api/v1/analytics`: summaries, node statistics, bottlenecks and the monitoring board
for designers, owners and analysts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, Path, Query

from bpm_common.auth import require_roles
from bpm_common.db import SessionDep
from bpm_common.http import api_router
from bpm_common.pagination import DEFAULT_LIMIT, MAX_LIMIT
from services.metrics.analytics import service
from services.metrics.analytics.aggregates import AggregateScope
from services.metrics.analytics.board import BoardFilter
from services.metrics.analytics.repository import Scope
from services.metrics.analytics.schemas import (
    Board,
    Bottlenecks,
    NodeStatsList,
    ProcessPage,
    ProcessSummary,
)
from services.metrics.roles import READERS

MAX_VERSION = 2**31 - 1  # the column is a PostgreSQL integer

router = api_router(
    prefix="/api/v1/analytics", tags=["analytics"], dependencies=[require_roles(*READERS)]
)

IncludeTrial = Annotated[
    bool, Query(description="Count instances of trial publications too (left out by default).")
]
Key = Annotated[str, Path(min_length=1, max_length=255, description="The process definition key.")]
Version = Annotated[
    int | None, Query(ge=1, le=MAX_VERSION, description="One version; all if absent.")
]
Department = Annotated[
    str | None,
    Query(min_length=1, max_length=255, description="Only instances of this department."),
]
StartedFrom = Annotated[
    dt.datetime | None,
    Query(alias="from", description="Instances started (tasks created) at or after this time."),
]
StartedTo = Annotated[
    dt.datetime | None,
    Query(alias="to", description="Instances started (tasks created) before this time."),
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


def _instance_scope(
    key: Key,
    version: Version = None,
    include_trial: IncludeTrial = False,
    started_from: StartedFrom = None,
    started_to: StartedTo = None,
    department: Department = None,
) -> Scope:
    """The instances a per-process figure is about, from the query parameters."""
    return service.summary_scope(
        key,
        version=version,
        include_trial=include_trial,
        started_from=started_from,
        started_to=started_to,
        department=department,
    )


InstanceScope = Annotated[Scope, Depends(_instance_scope)]


@router.get("/processes/{key}/summary", summary="Counts, cycle times and rates of one process")
async def process_summary(session: SessionDep, scope: InstanceScope) -> ProcessSummary:
    return await service.summarize(session, scope)


@router.get(
    "/processes/{key}/nodes",
    summary="Per node: counts, queue and work time, rejection and return rates, loops, SLA",
)
async def process_nodes(session: SessionDep, scope: InstanceScope) -> NodeStatsList:
    return await service.node_statistics(session, scope)


@router.get(
    "/processes/{key}/bottlenecks",
    summary="Nodes by share of the time and by waiting time; top causes of rejection and return",
)
async def process_bottlenecks(
    session: SessionDep,
    key: Key,
    version: Version = None,
    include_trial: IncludeTrial = False,
    department: Department = None,
    ended_from: Annotated[
        dt.datetime | None, Query(alias="from", description="Tasks ended at or after this time.")
    ] = None,
    ended_to: Annotated[
        dt.datetime | None, Query(alias="to", description="Tasks ended before this time.")
    ] = None,
) -> Bottlenecks:
    start, end = service.window(ended_from, ended_to)
    scope = AggregateScope(key, version, include_trial, department, start, end)
    return await service.bottlenecks(session, scope)


@router.get("/board", summary="Monitoring board: open, overdue, running and rejected work, live")
async def monitoring_board(
    session: SessionDep,
    process: Annotated[
        str | None, Query(min_length=1, max_length=255, description="A process key.")
    ] = None,
    department: Department = None,
    assignee: Annotated[
        str | None, Query(min_length=1, max_length=255, description="A username.")
    ] = None,
    include_trial: IncludeTrial = False,
    rejected_since: Annotated[
        dt.datetime | None,
        Query(description="Count rejections from this time on (default: the last 24 hours)."),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Most rows in each breakdown.")
    ] = DEFAULT_LIMIT,
) -> Board:
    since = service.utc(rejected_since, "rejected_since") or (
        dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    )
    f = BoardFilter(process, department, assignee, include_trial)
    return await service.monitoring_board(session, f, since=since, limit=limit)
