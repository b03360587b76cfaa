"""Rules of the reports: ISO weeks in the business's time zone, report rows, comparisons."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.errors import Unprocessable, field_error
from services.metrics.analytics import repository as analytics
from services.metrics.analytics.repository import Scope
from services.metrics.analytics.service import FIRST_YEAR, LAST_YEAR
from services.metrics.facts.contributions import normalize_reason
from services.metrics.reports import repository
from services.metrics.reports.render import Sheet
from services.metrics.reports.repository import Period
from services.metrics.reports.schemas import (
    ExceptionReason,
    MetricComparison,
    VersionComparison,
    VersionFigures,
    WeeklyReport,
    WeeklyRow,
)

ISO_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
TOP_REASONS = 3


def week_period(
    week: str | None, timezone: str, today: dt.date | None = None
) -> tuple[str, dt.datetime, dt.datetime]:
    """The ISO week `2026-W47` (the previous full week when absent) as a UTC period."""
    zone = ZoneInfo(timezone)
    if week is None:
        today = today or dt.datetime.now(zone).date()
        monday = today - dt.timedelta(days=today.weekday() + 7)
    else:
        match = ISO_WEEK.match(week)
        try:
            if match is None:
                raise ValueError(week)
            monday = dt.date.fromisocalendar(int(match[1]), int(match[2]), 1)
            if not FIRST_YEAR <= monday.year <= LAST_YEAR:
                raise ValueError(week)
        except ValueError as exc:
            raise Unprocessable(
                "not an ISO week",
                errors=[field_error("week", f"an ISO week such as 2026-W47, of the years {FIRST_YEAR} to {LAST_YEAR}")],
            ) from exc
    year, number, _ = monday.isocalendar()
    start = dt.datetime.combine(monday, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(monday + dt.timedelta(days=7), dt.time(), tzinfo=zone)
    return f"{year}-W{number:02d}", start.astimezone(dt.UTC), end.astimezone(dt.UTC)


async def weekly_report(
    session: AsyncSession, week: str, timezone: str, period: Period
) -> WeeklyReport:
    started = await repository.started(session, period)
    ended = await repository.ended(session, period)
    decided = await repository.decisions(session, period)
    overdue = await repository.overdue(session, period)
    reasons = _top_reasons(await repository.exception_reasons(session, period))
    keys = sorted(set(started) | set(ended) | set(decided) | set(overdue) | set(reasons))
    rows = []
    for key in keys:
        e, d = ended.get(key, {}), decided.get(key, {})
        rows.append(
            WeeklyRow(
                key=key,
                started=started.get(key, 0),
                completed=e.get("completed", 0),
                mean_cycle_seconds=e.get("mean_cycle_seconds"),
                mean_cycle_working_seconds=e.get("mean_cycle_working_seconds"),
                overdue=overdue.get(key, 0),
                rejection_rate=_rate(d.get("rejected", 0), d.get("decisions", 0)),
                rejected=d.get("rejected", 0),
                returned=d.get("returned", 0),
                withdrawn=e.get("withdrawn", 0),
                terminated=e.get("terminated", 0),
                exception_reasons=reasons.get(key, []),
            )
        )
    return WeeklyReport(
        week=week, timezone=timezone, period_from=period.start, period_to=period.end, items=rows
    )


def _top_reasons(rows: list[tuple[str, str, str | None]]) -> dict[str, list[ExceptionReason]]:
    counts: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    for key, kind, reason in rows:
        counts[key][(kind, normalize_reason(reason))] += 1
    return {
        key: [
            ExceptionReason(kind=kind, reason=reason or None, count=n)  # type: ignore[arg-type]
            for (kind, reason), n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REASONS]
        ]
        for key, c in counts.items()
    }


WEEKLY_HEADER = (
    "week",
    "period_from",
    "period_to",
    "process",
    "started",
    "completed",
    "mean_cycle_seconds",
    "mean_cycle_working_seconds",
    "overdue",
    "rejection_rate",
    "rejected",
    "returned",
    "withdrawn",
    "terminated",
    "main_exception_reasons",
)


def weekly_sheets(report: WeeklyReport) -> list[Sheet]:
    period = (report.week, report.period_from.isoformat(), report.period_to.isoformat())
    rows = [
        (
            *period,
            r.key,
            r.started,
            r.completed,
            r.mean_cycle_seconds,
            r.mean_cycle_working_seconds,
            r.overdue,
            r.rejection_rate,
            r.rejected,
            r.returned,
            r.withdrawn,
            r.terminated,
            "; ".join(
                f"{x.kind}: {x.reason or '(no reason)'} ({x.count})" for x in r.exception_reasons
            ),
        )
        for r in report.items
    ]
    reasons = [
        (r.key, x.kind, x.reason, x.count) for r in report.items for x in r.exception_reasons
    ]
    return [
        Sheet("Weekly report", WEEKLY_HEADER, rows),
        Sheet("Exception reasons", ("process", "kind", "reason", "count"), reasons),
    ]


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    summary_field: str
    better: Literal["lower", "higher"]


COMPARED = (
    Metric("cycle_seconds", "avg_cycle_seconds", "lower"),
    Metric("median_cycle_seconds", "median_cycle_seconds", "lower"),
    Metric("p90_cycle_seconds", "p90_cycle_seconds", "lower"),
    Metric("cycle_working_seconds", "avg_cycle_working_seconds", "lower"),
    Metric("queue_seconds", "avg_queue_seconds", "lower"),
    Metric("rejection_rate", "rejection_rate", "lower"),
    Metric("return_rate", "return_rate", "lower"),
    Metric("loops_per_instance", "loops_per_instance", "lower"),
    Metric("sla_compliance_rate", "sla_compliance_rate", "higher"),
    Metric("satisfaction", "avg_satisfaction", "higher"),
)


async def version_comparison(
    session: AsyncSession,
    key: str,
    before: int,
    after: int,
    targets: dict[str, float],
    *,
    include_trial: bool,
    department: str | None,
) -> VersionComparison:
    """Each metric before and after, its change, and how much of the targeted change came."""
    figures = {}
    for version in (before, after):
        scope = Scope(key, version, include_trial, department=department)
        figures[version] = await analytics.summary(session, scope)
    metrics = [
        _compare(
            m,
            figures[before][m.summary_field],
            figures[after][m.summary_field],
            targets.get(m.name),
        )
        for m in COMPARED
    ]
    return VersionComparison(
        key=key,
        before=_figures(before, figures[before]),
        after=_figures(after, figures[after]),
        metrics=metrics,
    )


def _figures(version: int, summary: dict[str, Any]) -> VersionFigures:
    return VersionFigures(
        version=version, started=summary["started"], completed=summary["completed"]
    )


def _compare(m: Metric, before: Any, after: Any, target: float | None) -> MetricComparison:
    b = None if before is None else float(before)
    a = None if after is None else float(after)
    change = None if a is None or b is None else a - b
    achieved = None
    if change is not None and target is not None and target != b:
        achieved = change / (target - b)
    met = None
    if a is not None and target is not None:
        met = a <= target if m.better == "lower" else a >= target
    return MetricComparison(
        metric=m.name,
        better=m.better,
        before=b,
        after=a,
        change=change,
        change_rate=None if change is None or not b else change / b,
        target=target,
        achievement_rate=achieved,
        target_met=met,
    )


COMPARISON_HEADER = (
    "metric",
    "better",
    "before",
    "after",
    "change",
    "change_rate",
    "target",
    "achievement_rate",
    "target_met",
)


def comparison_sheets(c: VersionComparison) -> list[Sheet]:
    rows = [
        (
            m.metric,
            m.better,
            m.before,
            m.after,
            m.change,
            m.change_rate,
            m.target,
            m.achievement_rate,
            m.target_met,
        )
        for m in c.metrics
    ]
    counts = [
        ("version", c.before.version, c.after.version),
        ("started", c.before.started, c.after.started),
        ("completed", c.before.completed, c.after.completed),
    ]
    return [
        Sheet("Version comparison", COMPARISON_HEADER, rows),
        Sheet("Instances", ("", "before", "after"), counts),
    ]


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None
