"""`/api/v1/reports`: the weekly KPI report and the comparison of two versions, as JSON,
CSV or Excel."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from starlette.responses import Response

from bpm_common.auth import require_roles
from bpm_common.db import SessionDep
from bpm_common.errors import Unprocessable, field_error
from bpm_common.http import api_router
from services.metrics.reports import service
from services.metrics.reports.render import (
    CSV_TYPE,
    XLSX_TYPE,
    Sheet,
    csv_bytes,
    download,
    xlsx_bytes,
)
from services.metrics.reports.repository import Period
from services.metrics.reports.schemas import Format, VersionComparison, WeeklyReport
from services.metrics.roles import READERS

MAX_VERSION = 2**31 - 1

router = api_router(
    prefix="/api/v1/reports", tags=["reports"], dependencies=[require_roles(*READERS)]
)

FormatQuery = Annotated[Format, Query(description="json (default), csv or xlsx (Excel).")]
IncludeTrial = Annotated[bool, Query(description="Count trial instances too.")]
Department = Annotated[str | None, Query(min_length=1, max_length=255)]
Target = Annotated[float | None, Query(allow_inf_nan=False)]


@router.get("/weekly", summary="Weekly KPI report per process", response_model=WeeklyReport)
async def weekly(
    session: SessionDep,
    request: Request,
    key: Annotated[
        str | None, Query(min_length=1, max_length=255, description="One process; all if absent.")
    ] = None,
    week: Annotated[
        str | None,
        Query(
            max_length=10, description="ISO week, e.g. 2026-W47; the previous full week if absent."
        ),
    ] = None,
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
    department: Department = None,
    include_trial: IncludeTrial = False,
    format: FormatQuery = "json",  # noqa: A002 - the query parameter's name
) -> WeeklyReport | Response:
    timezone = request.app.state.settings.timezone
    label, start, end = service.week_period(week, timezone)
    period = Period(start, end, key, version, department, include_trial)
    report = await service.weekly_report(session, label, timezone, period)
    return _render(report, service.weekly_sheets(report), format, f"weekly-report-{label}")


@router.get(
    "/version-comparison",
    summary="Metrics of two versions of a process, with targets and achievement rates",
    response_model=VersionComparison,
)
async def version_comparison(
    session: SessionDep,
    key: Annotated[str, Query(min_length=1, max_length=255)],
    before: Annotated[int, Query(ge=1, le=MAX_VERSION, description="The earlier version.")],
    after: Annotated[int, Query(ge=1, le=MAX_VERSION, description="The later version.")],
    department: Department = None,
    include_trial: IncludeTrial = False,
    format: FormatQuery = "json",  # noqa: A002 - the query parameter's name
    target_cycle_seconds: Target = None,
    target_median_cycle_seconds: Target = None,
    target_p90_cycle_seconds: Target = None,
    target_cycle_working_seconds: Target = None,
    target_queue_seconds: Target = None,
    target_rejection_rate: Target = None,
    target_return_rate: Target = None,
    target_loops_per_instance: Target = None,
    target_sla_compliance_rate: Target = None,
    target_satisfaction: Target = None,
) -> VersionComparison | Response:
    if before == after:
        raise Unprocessable(
            "compare two different versions",
            errors=[field_error("after", "must differ from 'before'")],
        )
    given = {
        "cycle_seconds": target_cycle_seconds,
        "median_cycle_seconds": target_median_cycle_seconds,
        "p90_cycle_seconds": target_p90_cycle_seconds,
        "cycle_working_seconds": target_cycle_working_seconds,
        "queue_seconds": target_queue_seconds,
        "rejection_rate": target_rejection_rate,
        "return_rate": target_return_rate,
        "loops_per_instance": target_loops_per_instance,
        "sla_compliance_rate": target_sla_compliance_rate,
        "satisfaction": target_satisfaction,
    }
    targets = {name: value for name, value in given.items() if value is not None}
    comparison = await service.version_comparison(
        session, key, before, after, targets, include_trial=include_trial, department=department
    )
    return _render(
        comparison, service.comparison_sheets(comparison), format, f"{key}-v{before}-v{after}"
    )


def _render(
    report: WeeklyReport | VersionComparison, sheets: list[Sheet], fmt: str, name: str
) -> WeeklyReport | VersionComparison | Response:
    if fmt == "csv":
        first = sheets[0]
        return download(csv_bytes(first.header, first.rows), CSV_TYPE, f"{name}.csv")
    if fmt == "xlsx":
        return download(xlsx_bytes(sheets), XLSX_TYPE, f"{name}.xlsx")
    return report
