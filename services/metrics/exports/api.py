"""`/api/v1/exports`: the event log of a process for process-mining tools, streamed."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import Query, Request
from sqlalchemy import RowMapping
from starlette.responses import StreamingResponse

from bpm_common.auth import require_roles
from bpm_common.db import Database
from bpm_common.http import api_router
from services.metrics.analytics.service import window
from services.metrics.exports import formats, repository
from services.metrics.exports.repository import LogFilter
from services.metrics.roles import READERS

MAX_VERSION = 2**31 - 1
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")

router = api_router(
    prefix="/api/v1/exports", tags=["exports"], dependencies=[require_roles(*READERS)]
)


@router.get(
    "/event-log",
    summary="The event log of a process as XES (IEEE 1849) or CSV, one trace per instance",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/xml": {}, "text/csv": {}},
            "description": "The log, streamed.",
        }
    },
)
async def event_log(
    request: Request,
    key: Annotated[str, Query(min_length=1, max_length=255, description="The process key.")],
    format: Annotated[Literal["xes", "csv"], Query()] = "xes",  # noqa: A002 - the parameter's name
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
    department: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    include_trial: Annotated[bool, Query(description="Trial instances too.")] = False,
    started_from: Annotated[
        dt.datetime | None, Query(alias="from", description="Instances started at or after this.")
    ] = None,
    started_to: Annotated[
        dt.datetime | None, Query(alias="to", description="Instances started before this.")
    ] = None,
) -> StreamingResponse:
    start, end = window(started_from, started_to)
    f = LogFilter(key, version, include_trial, department, start, end)
    db: Database = request.app.state.db
    name = _UNSAFE.sub("_", key)
    rows = await _started(_rows(db, f))
    if format == "csv":
        return StreamingResponse(
            formats.csv_log(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return StreamingResponse(
        formats.xes(key, rows),
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{name}.xes"'},
    )


async def _started(rows: AsyncIterator[RowMapping]) -> AsyncIterator[RowMapping]:
    """`rows` with the first one read already: a query that fails does so here, as an
    error answer, not after a 200 has gone out with an empty file."""
    first = await anext(rows, None)

    async def _all() -> AsyncIterator[RowMapping]:
        if first is not None:
            yield first
            async for row in rows:
                yield row

    return _all()


async def _rows(db: Database, f: LogFilter) -> AsyncIterator[RowMapping]:
    """The rows, read in their own unit of work while the response is sent."""
    async with db.transaction() as session:
        async for row in repository.events(session, f):
            yield row
